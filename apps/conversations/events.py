"""Events of conversations and messages, and the realtime frames built from fresh rows.

Who may see a conversation decides who gets its frames (`selectors.conversation_audience`, the
sockets' side of the one visibility rule); the same goes for the files its messages carry.
"""

from apps.conversations.models import Conversation, Message
from apps.conversations.selectors import audience_for, conversation_audience
from apps.media.events import MEDIA_SCANNED, media_data
from apps.media.models import MediaFile
from conversa.prepared import PreparedRead
from conversa.realtime.fanout import realtime_payload, realtime_payloads

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
CONVERSATION_ASSIGNED = "conversation.assigned"
# Internal (no frame): a conversation joined a team's queue; routing listens.
CONVERSATION_QUEUED = "conversation.queued"
# Internal (no frame): a conversation was snoozed until {"until"}; its wake-up is scheduled then.
CONVERSATION_SNOOZED = "conversation.snoozed"
MESSAGE_CREATED = "message.created"
# Internal (no frame): provider statuses for ids no message of ours carries (a campaign's sends,
# which live above conversations); {"statuses": [{inbox_id, provider_message_id, send_key, status,
# timestamp, error_code, error_message}]}. Campaigns listen.
STATUSES_UNMATCHED = "message.statuses_unmatched"
MESSAGE_UPDATED = "message.updated"
# In a `conversation.updated` published with a new message's `message.created`: the change is that
# message's (last message, unread count), whose frame carries the row.
WITH_MESSAGE = "with_message"
# With WITH_MESSAGE: that message is a person's first response in the conversation, which sets its
# `first_response_at` too (reports' facts change; other messages leave them as they were).
FIRST_RESPONSE = "first_response"

CONVERSATION_EVENTS = (
    CONVERSATION_CREATED,
    CONVERSATION_UPDATED,
    CONVERSATION_STATUS_CHANGED,
    CONVERSATION_ASSIGNED,
)


def conversation_activity_data(conversation: Conversation) -> dict:
    """What a new message changes in its conversation's row, and who holds it: the part of
    `conversation_data` a `message.created` frame carries."""
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "unread_count": conversation.unread_count,
        "last_message_at": _iso(conversation.last_message_at),
        "updated_at": _iso(conversation.updated_at),
    }


def conversation_data(conversation: Conversation) -> dict:
    contact = conversation.contact
    return {
        **conversation_activity_data(conversation),
        "priority": conversation.priority,
        "labels": list(conversation.labels),
        "subject": conversation.subject,
        "inbox_id": conversation.inbox_id,
        "first_response_due_at": _iso(conversation.first_response_due_at),
        "resolution_due_at": _iso(conversation.resolution_due_at),
        "sla_breached": conversation.sla_breached,
        "csat_rating": conversation.csat_rating,
        "csat_comment": conversation.csat_comment,
        "contact": {"id": contact.pk, "name": contact.name, "phone": contact.phone},
        "created_at": _iso(conversation.created_at),
    }


def message_data(message: Message) -> dict:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "sender_type": message.sender_type,
        "sender_user_id": message.sender_user_id,
        "kind": message.kind,
        "text": message.text,
        "template_name": message.template_name,
        "reply_to_id": message.reply_to_id,
        "media": media_data(message.media) if message.media_id else None,
        "status": message.status,
        "error_code": message.error_code,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
    }


def _iso(value):
    return value.isoformat() if value else None


# The columns the frames read: a drain's batch builds hundreds, and the rest of the rows (notes,
# custom fields, bot state…) would be fetched and turned into Python for nothing.
_CONVERSATION_FRAME_FIELDS = (
    "status", "assignee", "team", "unread_count", "last_message_at", "updated_at", "priority",
    "labels", "subject", "inbox", "first_response_due_at", "resolution_due_at", "sla_breached",
    "csat_rating", "csat_comment", "created_at", "contact__name", "contact__phone",
)
_ACTIVITY_FIELDS = tuple(
    f"conversation__{name}"
    for name in ("status", "assignee", "team", "unread_count", "last_message_at", "updated_at")
)
_MESSAGE_FRAME_FIELDS = (
    "conversation", "direction", "sender_type", "sender_user", "kind", "text", "template_name",
    "reply_to", "media", "status", "error_code", "created_at", "sent_at", "delivered_at", "read_at",
    "deleted_at", *_ACTIVITY_FIELDS,
)


def _conversation_rows():
    return Conversation.objects.select_related("contact").only(*_CONVERSATION_FRAME_FIELDS).order_by()


def _message_rows():
    return Message.objects.select_related("conversation", "media").only(*_MESSAGE_FRAME_FIELDS).order_by()


_one_conversation = PreparedRead(lambda pk: _conversation_rows().filter(pk=pk), pk=0)
_one_message = PreparedRead(lambda pk: _message_rows().filter(pk=pk), pk=0)


def _by_id(rows, one: PreparedRead, ids: set[int]) -> dict:
    """The rows of `ids`. Most frames come alone (a delivery's status, an agent's action): their
    row comes through a prepared read, compiled once instead of per frame."""
    if len(ids) == 1:
        [pk] = ids
        found = one.first(pk=pk)
        return {} if found is None else {pk: found}
    return rows().in_bulk(ids) if ids else {}


def _conversation_frames(events):
    # A new message's own frame carries its conversation's row (see `_message_frames`).
    ids = {event.data["conversation_id"] for event in events if not event.data.get(WITH_MESSAGE)}
    found = _by_id(_conversation_rows, _one_conversation, ids)
    return [_conversation_frame(event, found.get(event.data["conversation_id"])) for event in events]


def _conversation_frame(event, conversation):
    # The row may have been read for another event of the batch: a new message's update still has
    # no frame of its own.
    if conversation is None or event.data.get(WITH_MESSAGE):
        return None
    audience = conversation_audience(conversation)
    frames = [(conversation_data(conversation), audience)]
    if "previous_assignee_id" in event.data:
        # Whoever saw it before a (re)assignment learns only that it moved away, to drop it.
        before = audience_for(
            team_id=event.data.get("previous_team_id", conversation.team_id),
            assignee_id=event.data["previous_assignee_id"],
        )
        left = sorted(set(before) - set(audience))
        if left:
            moved = {
                "id": conversation.pk,
                "assignee_id": conversation.assignee_id,
                "team_id": conversation.team_id,
                "status": conversation.status,
            }
            frames.append((moved, left))
    return frames


for _name in CONVERSATION_EVENTS:
    realtime_payloads(_name)(_conversation_frames)


def _message_frames(events):
    """A `message.created` frame carries what the message changed in its conversation's row
    (`data.conversation`): one frame per new message and socket instead of two, the fan-out's cost
    with hundreds of agents online. The `conversation.updated` published with the message
    (`WITH_MESSAGE`) then has no frame of its own; it still reaches every other listener (webhooks,
    automations, reports)."""
    found = _by_id(_message_rows, _one_message, {event.data["message_id"] for event in events})
    frames = []
    for event in events:
        message = found.get(event.data["message_id"])
        if message is None or message.deleted_at is not None:
            frames.append(None)
            continue
        data = message_data(message)
        if event.name == MESSAGE_CREATED:
            data["conversation"] = conversation_activity_data(message.conversation)
        frames.append((data, conversation_audience(message.conversation)))
    return frames


realtime_payloads(MESSAGE_CREATED)(_message_frames)
realtime_payloads(MESSAGE_UPDATED)(_message_frames)


@realtime_payload(MEDIA_SCANNED)
def media_scanned_frame(event):
    """To whoever may see the file (`selectors.media_visible_to`): everyone who may see a
    conversation whose messages carry it, or its uploader while no message does."""
    media = MediaFile.objects.filter(pk=event.data["media_id"]).first()
    if media is None:
        return None
    audience = set()
    for message in Message.objects.filter(media=media).select_related("conversation"):
        audience.update(conversation_audience(message.conversation))
    if not audience and media.uploaded_by_id:
        audience.add(f"user.{media.uploaded_by_id}")
    return (media_data(media), sorted(audience)) if audience else None
