"""What customers send: messages into conversations, and delivery statuses onto our messages."""

import datetime as dt
import uuid

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.contacts.models import Contact
from apps.contacts.services import contact_get_or_create_for_inbound, contact_record_message
from apps.conversations import csat, events
from apps.conversations.models import DELIVERY_UNKNOWN, Conversation, Message, TimelineEvent
from apps.conversations.preview import message_preview
from apps.inboxes.models import Inbox
from apps.inboxes.providers.base import FAILED, InboundMessage, StatusUpdate
from apps.inboxes.selectors import provider_for
from apps.media.services import media_receive_inbound
from conversa.events import publish


def conversation_for_inbound(
    *, contact: Contact, inbox: Inbox, at: dt.datetime, preview: str = "", text: str = "", kind: str = "text",
) -> tuple[Conversation, bool]:
    """The contact's conversation in progress, a recently closed one reopened, or a new one; or,
    when the message answers the satisfaction survey of the last closed one (`csat`), that one,
    left closed.

    The caller holds the contact's row lock, so two messages of one customer cannot race here.
    """
    active = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(contact=contact, inbox=inbox, status__in=Conversation.ACTIVE_STATUSES)
        .first()
    )
    if active is not None:
        return active, False
    window = dt.timedelta(hours=inbox.reopen_window_hours)
    # The last closed one that may reopen or whose survey this may answer: the same one row.
    may_reopen = Q(status=Conversation.Status.CLOSED, closed_at__gte=at - window)
    recent = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(may_reopen | csat.answer_window_condition(at), contact=contact, inbox=inbox)
        .order_by("-closed_at")
        .first()
    )
    if recent is not None:
        recent.inbox = inbox
        if csat.reply_absorbed(recent, text=text, kind=kind, at=at):
            return recent, False
    if recent is not None and recent.closed_at >= at - window:
        recent.status = Conversation.Status.OPEN if recent.assignee_id else Conversation.Status.QUEUED
        recent.closed_at = None
        if recent.status == Conversation.Status.QUEUED:
            recent.queued_at = at
        recent.save(update_fields=["status", "closed_at", "queued_at", "updated_at"])
        TimelineEvent.objects.create(conversation=recent, kind="reopened_by_contact")
        publish(
            events.CONVERSATION_STATUS_CHANGED,
            {"conversation_id": recent.pk, "from": "closed", "to": recent.status},
        )
        return recent, False
    # Created with the first message already counted: no update needed after the insert.
    conversation = Conversation.objects.create(
        contact=contact, inbox=inbox, team_id=inbox.default_team_id, status=Conversation.Status.QUEUED,
        queued_at=at, last_message_at=at, last_inbound_at=at, unread_count=1, last_message_preview=preview,
    )
    return conversation, True


def message_receive(*, inbox: Inbox, inbound: InboundMessage) -> Message | None:
    """Store a customer's message once (provider ids are unique per inbox) in its conversation.

    Returns None for a duplicate delivery. Publishes message.created and the conversation's event.
    Duplicates are looked for under the contact's row lock: a concurrent delivery of the same
    message (same phone) has committed by then, so the insert needs no savepoint of its own.
    """
    # Inside the worker's per-event savepoint a second one would only cost round trips.
    with transaction.atomic(savepoint=False):
        contact, _ = contact_get_or_create_for_inbound(
            phone=inbound.from_phone, name=inbound.profile_name, lock=True
        )
        if Message.objects.filter(inbox=inbox, provider_message_id=inbound.provider_message_id).exists():
            return None
        at = min(inbound.timestamp, timezone.now())
        preview = message_preview(kind=inbound.kind, text=inbound.text)
        conversation, created = conversation_for_inbound(
            contact=contact, inbox=inbox, at=at, preview=preview, text=inbound.text, kind=inbound.kind,
        )
        reply_to = None
        if inbound.reply_to_provider_id:
            reply_to = Message.objects.filter(
                inbox=inbox,
                provider_message_id=inbound.reply_to_provider_id,
            ).first()
        message = inbound_message(conversation=conversation, inbox=inbox, inbound=inbound,
                                  reply_to_id=reply_to.pk if reply_to else None)
        message.save(force_insert=True)
        if not created:
            Conversation.objects.filter(pk=conversation.pk).update(
                unread_count=F("unread_count") + 1,
                last_message_at=at,
                last_message_preview=preview,
                last_inbound_at=at,
                updated_at=timezone.now(),
            )
        contact_record_message(contact=contact, inbound=True, at=at)
        if created:
            publish(events.CONVERSATION_CREATED, {"conversation_id": conversation.pk})
        else:
            publish(events.CONVERSATION_UPDATED,
                    {"conversation_id": conversation.pk, events.WITH_MESSAGE: True})
        publish(
            events.MESSAGE_CREATED,
            {"message_id": message.pk, "conversation_id": conversation.pk, "direction": "inbound"},
        )
        if inbound.media_ref:
            fetch_media_after_commit(message.pk)
    return message


def inbound_message(
    *, conversation: Conversation, inbox: Inbox, inbound: InboundMessage, reply_to_id: int | None
) -> Message:
    """The (unsaved) message row of what a customer sent."""
    return Message(
        conversation=conversation,
        inbox=inbox,
        direction=Message.Direction.INBOUND,
        sender_type=Message.Sender.CONTACT,
        kind=inbound.kind,
        text=inbound.text,
        media_ref=inbound.media_ref,
        media_mime=inbound.media_mime,
        media_filename=inbound.media_filename[:200],
        reply_to_id=reply_to_id,
        provider_message_id=inbound.provider_message_id,
        status=Message.Status.RECEIVED,
    )


def fetch_media_after_commit(message_id: int) -> None:
    """Queue the download of an inbound message's file once the message is committed."""
    from apps.conversations.tasks import message_media_fetch

    schema = connection.schema_name
    transaction.on_commit(lambda: message_media_fetch(schema, message_id))


def message_attach_inbound_media(*, message_id: int) -> str:
    """Fetch the file of an inbound message and put it in quarantine (scan queued after commit).

    Provider errors propagate so the task retries; the message keeps its provider reference.
    """
    message = Message.objects.select_related("inbox").filter(pk=message_id).first()
    if message is None or message.media_id or not message.media_ref:
        return "skipped"
    data, mime = provider_for(message.inbox).download_media(message.media_ref)
    with transaction.atomic():
        media = media_receive_inbound(
            data=data,
            declared_type=mime or message.media_mime,
            filename=message.media_filename or f"{message.kind}",
        )
        updated = Message.objects.filter(pk=message.pk, media__isnull=True).update(media=media)
        if updated:
            publish(events.MESSAGE_UPDATED, {"message_id": message.pk})
    return media.status


def _find_outbound(inbox: Inbox, update: StatusUpdate, send_key: str) -> Message | None:
    messages = Message.objects.select_for_update().filter(inbox=inbox, direction=Message.Direction.OUTBOUND)
    if update.provider_message_id:
        found = messages.filter(provider_message_id=update.provider_message_id).first()
        if found is not None:
            return found
    if send_key:
        try:
            return messages.filter(send_key=uuid.UUID(send_key)).first()
        except ValueError:
            return None
    return None


def _rank(message: Message) -> int:
    if message.status == Message.Status.FAILED and message.error_code == DELIVERY_UNKNOWN:
        return -1  # we never learnt whether it went out: any news from the provider wins
    return Message.STATUS_RANK.get(message.status, 99)


def message_apply_status(*, inbox: Inbox, update: StatusUpdate, send_key: str = "") -> Message | None:
    """Apply a provider status; statuses never move a message backwards, whatever their order.

    `send_key` (our idempotency key, echoed by the provider) finds a message whose send response
    was lost, e.g. when a worker died mid-send, and records the provider id it was given.
    """
    with transaction.atomic():
        message = _find_outbound(inbox, update, send_key)
        if message is None:
            publish(events.STATUSES_UNMATCHED, {"statuses": [unmatched_status(inbox, update, send_key)]})
            return None
        changed = status_changes(message, update)
        if changed:
            message.save(update_fields=changed)
            publish(events.MESSAGE_UPDATED, {"message_id": message.pk})
    return message


def unmatched_status(inbox: Inbox, update: StatusUpdate, send_key: str) -> dict:
    """A status no message of ours matched, as plain values for `STATUSES_UNMATCHED`."""
    return {
        "inbox_id": inbox.pk, "provider_message_id": update.provider_message_id, "send_key": send_key or "",
        "status": update.status, "timestamp": update.timestamp.isoformat(),
        "error_code": update.error_code, "error_message": update.error_message[:500],
    }


def status_changes(message: Message, update: StatusUpdate) -> list[str]:
    """Apply `update` to the (locked) `message` in memory; returns the fields it changed, sorted."""
    changed = []
    if update.provider_message_id and not message.provider_message_id:
        message.provider_message_id = update.provider_message_id
        changed.append("provider_message_id")
    stamp = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}
    field = stamp[update.status]
    if getattr(message, field) is None:
        setattr(message, field, update.timestamp)
        changed.append(field)
    if update.status == FAILED:
        if message.status not in (Message.Status.DELIVERED, Message.Status.READ, Message.Status.FAILED):
            message.status = Message.Status.FAILED
            message.error_code, message.error_message = update.error_code, update.error_message[:500]
            changed += ["status", "error_code", "error_message"]
    elif Message.STATUS_RANK.get(update.status, -1) > _rank(message):
        message.status = update.status
        message.claimed_until = None
        changed += ["status", "claimed_until"]
        # A later status implies the earlier ones happened (they may arrive after it, or never).
        for earlier in ("sent", "delivered"):
            if Message.STATUS_RANK[earlier] < Message.STATUS_RANK[update.status]:
                if getattr(message, stamp[earlier]) is None:
                    setattr(message, stamp[earlier], update.timestamp)
                    changed.append(stamp[earlier])
    return sorted(set(changed))
