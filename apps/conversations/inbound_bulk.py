"""Many customers' messages and delivery statuses at once: what the webhook drain does with a burst.

The outcome for each message is `message_receive`'s (one stored message per provider id, in the
contact's conversation in progress, a recently closed one reopened, or a new one; the same
events), in about ten statements for the whole batch instead of a dozen per message; for each
status, `message_apply_status`'s. The caller runs them in a savepoint and, should one raise,
processes the events one by one instead.
"""

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.contacts.models import Contact
from apps.contacts.services import contacts_get_or_create_for_inbound, contacts_record_inbound
from apps.conversations import csat, events
from apps.conversations.inbound import (
    conversation_for_inbound,
    fetch_media_after_commit,
    inbound_message,
    status_changes,
    unmatched_status,
)
from apps.conversations.models import Conversation, Message
from apps.conversations.preview import message_preview
from apps.inboxes.models import Inbox
from apps.inboxes.providers.base import InboundMessage, StatusUpdate
from conversa.events import publish


@dataclass
class _Item:
    inbox: Inbox
    inbound: InboundMessage
    at: dt.datetime
    contact: Contact | None = None
    conversation: Conversation | None = None
    # Counted by the creation of its conversation (unread count, last message times).
    counted: bool = False

    @property
    def preview(self) -> str:
        return message_preview(kind=self.inbound.kind, text=self.inbound.text)


def messages_receive(received: list[tuple[Inbox, InboundMessage]]) -> list[Message]:
    """Store the messages of `received` that are not stored yet, in their order; returns them."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        items = _new_items(received, now)
        if not items:
            return []
        contacts = contacts_get_or_create_for_inbound(
            [(item.inbound.from_phone, item.inbound.profile_name) for item in items]
        )
        for item in items:
            item.contact = contacts[item.inbound.from_phone]
        created = _attach_conversations(items)
        replies = _replies_to(items)
        messages = Message.objects.bulk_create([
            inbound_message(
                conversation=item.conversation, inbox=item.inbox, inbound=item.inbound,
                reply_to_id=replies.get((item.inbox.pk, item.inbound.reply_to_provider_id)),
            )
            for item in items
        ])
        _quote_within_batch(items, messages)
        _count_in_conversations([item for item in items if not item.counted], now)
        latest: dict[int, dt.datetime] = {}
        for item in items:
            latest[item.contact.pk] = max(latest.get(item.contact.pk, item.at), item.at)
        contacts_record_inbound(latest)
        announced: set[int] = set()
        for item, message in zip(items, messages, strict=True):
            conversation_id = item.conversation.pk
            if conversation_id not in announced:
                announced.add(conversation_id)
                new = conversation_id in created
                if new:
                    publish(events.CONVERSATION_CREATED, {"conversation_id": conversation_id})
                else:
                    publish(events.CONVERSATION_UPDATED,
                            {"conversation_id": conversation_id, events.WITH_MESSAGE: True})
            publish(events.MESSAGE_CREATED,
                    {"message_id": message.pk, "conversation_id": conversation_id, "direction": "inbound"})
            if item.inbound.media_ref:
                fetch_media_after_commit(message.pk)
    return messages


def _new_items(received: list[tuple[Inbox, InboundMessage]], now: dt.datetime) -> list[_Item]:
    """Leave out what is stored already and repeats within the batch (providers redeliver)."""
    wanted = {(inbox.pk, inbound.provider_message_id) for inbox, inbound in received}
    stored = set(
        Message.objects.filter(
            inbox_id__in={inbox_id for inbox_id, _ in wanted},
            provider_message_id__in={provider_id for _, provider_id in wanted},
        ).values_list("inbox_id", "provider_message_id")
    )
    items = []
    for inbox, inbound in received:
        key = (inbox.pk, inbound.provider_message_id)
        if key not in stored:
            stored.add(key)
            items.append(_Item(inbox=inbox, inbound=inbound, at=min(inbound.timestamp, now)))
    return items


def _attach_conversations(items: list[_Item]) -> set[int]:
    """Give every item its conversation; returns the ids of those created here (already counting
    their messages)."""
    pairs = {(item.contact.pk, item.inbox.pk) for item in items}
    active = {
        (conversation.contact_id, conversation.inbox_id): conversation
        for conversation in Conversation.objects.select_for_update(of=("self",))
        .filter(
            contact_id__in={contact for contact, _ in pairs},
            inbox_id__in={inbox for _, inbox in pairs},
            status__in=Conversation.ACTIVE_STATUSES,
        )
        .order_by("pk")
        if (conversation.contact_id, conversation.inbox_id) in pairs
    }
    missing = [item for item in items if (item.contact.pk, item.inbox.pk) not in active]
    recently_closed = _recently_closed_pairs(missing)
    created: set[int] = set()
    fresh: dict[tuple[int, int], list[_Item]] = {}
    for item in missing:
        pair = (item.contact.pk, item.inbox.pk)
        if pair in active:  # reopened or created for an earlier item of the batch
            continue
        if pair in recently_closed:
            conversation, item.counted = conversation_for_inbound(
                contact=item.contact, inbox=item.inbox, at=item.at, preview=item.preview,
                text=item.inbound.text, kind=item.inbound.kind,
            )
            if conversation.status == Conversation.Status.CLOSED:
                # Its survey's answer: the next message of this customer is looked at afresh.
                item.conversation = conversation
                continue
            active[pair] = conversation
            if item.counted:
                created.add(active[pair].pk)
        else:
            fresh.setdefault(pair, []).append(item)
            item.counted = True
    new = [
        Conversation(
            contact=batch[0].contact, inbox=batch[0].inbox, team_id=batch[0].inbox.default_team_id,
            status=Conversation.Status.QUEUED, queued_at=batch[0].at, last_message_at=batch[-1].at,
            last_inbound_at=batch[-1].at, unread_count=len(batch), last_message_preview=batch[-1].preview,
        )
        for batch in fresh.values()
    ]
    Conversation.objects.bulk_create(new)
    active.update(zip(fresh, new, strict=True))
    for item in items:
        if item.conversation is None:
            item.conversation = active[(item.contact.pk, item.inbox.pk)]
    return created | {conversation.pk for conversation in new}


def _recently_closed_pairs(items: list[_Item]) -> set[tuple[int, int]]:
    """(contact, inbox) pairs that may have a closed conversation to reopen: a superset, which
    `conversation_for_inbound` then settles for each."""
    if not items:
        return set()
    since = min(item.at - dt.timedelta(hours=item.inbox.reopen_window_hours) for item in items)
    return set(
        Conversation.objects.filter(
            Q(status=Conversation.Status.CLOSED, closed_at__gte=since)
            | csat.answer_window_condition(min(item.at for item in items)),
            contact_id__in={item.contact.pk for item in items},
            inbox_id__in={item.inbox.pk for item in items},
        ).values_list("contact_id", "inbox_id")
    )


def _replies_to(items: list[_Item]) -> dict[tuple[int, str], int]:
    quoted = {(item.inbox.pk, item.inbound.reply_to_provider_id) for item in items
              if item.inbound.reply_to_provider_id}
    if not quoted:
        return {}
    return {
        (inbox_id, provider_id): pk
        for pk, inbox_id, provider_id in Message.objects.filter(
            inbox_id__in={inbox_id for inbox_id, _ in quoted},
            provider_message_id__in={provider_id for _, provider_id in quoted},
        ).values_list("pk", "inbox_id", "provider_message_id")
    }


def _quote_within_batch(items: list[_Item], messages: list[Message]) -> None:
    """Replies to a message stored earlier in this same batch, which the lookup before the insert
    could not see (one by one, it would have been stored by then)."""
    stored: dict[tuple[int, str], int] = {}
    quoting = []
    for item, message in zip(items, messages, strict=True):
        target = stored.get((item.inbox.pk, item.inbound.reply_to_provider_id))
        if message.reply_to_id is None and target is not None:
            message.reply_to_id = target
            quoting.append(message)
        stored[(item.inbox.pk, item.inbound.provider_message_id)] = message.pk
    if quoting:
        Message.objects.bulk_update(quoting, ["reply_to"])


def _count_in_conversations(items: list[_Item], now: dt.datetime) -> None:
    """Unread count and last message times of conversations that existed before the batch, in one
    statement (as `message_receive`, the last message's time wins)."""
    if not items:
        return
    counts = Counter(item.conversation.pk for item in items)
    last = {item.conversation.pk: item for item in items}
    table = connection.ops.quote_name(Conversation._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::integer, %s::timestamptz, %s::text)"] * len(counts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET unread_count = c.unread_count + v.n, last_message_at = v.at, "
            f"last_inbound_at = v.at, last_message_preview = v.preview, updated_at = %s "
            f"FROM (VALUES {rows}) AS v(id, n, at, preview) WHERE c.id = v.id",
            [now, *(value for pk in sorted(counts)
                    for value in (pk, counts[pk], last[pk].at, last[pk].preview))],
        )


def statuses_apply(updates: list[tuple[Inbox, StatusUpdate, str]]) -> int:
    """Apply (inbox, status, send key) updates in their order; returns how many messages changed.

    One query locks every message they name (by provider id, or by our send key when the provider
    echoes it and the send response was lost), the changes are worked out in memory in arrival
    order exactly as one by one (`status_changes`), and each set of changed fields is written in one
    statement. One `message.updated` per changed message.
    """
    inboxes = {inbox.pk for inbox, _, _ in updates}
    provider_ids = {update.provider_message_id for _, update, _ in updates if update.provider_message_id}
    send_keys = {key for _, _, send_key in updates if (key := _uuid(send_key))}
    if not provider_ids and not send_keys:
        return 0
    unmatched = []
    # A superset (any of the inboxes with any of the ids), told apart below by (inbox, id).
    wanted = Q(provider_message_id__in=provider_ids) | Q(send_key__in=send_keys)
    changed: dict[int, tuple[Message, set[str]]] = {}
    with transaction.atomic(savepoint=False):
        found = list(
            Message.objects.select_for_update()
            .filter(wanted, inbox_id__in=inboxes, direction=Message.Direction.OUTBOUND)
            .order_by("pk")
        )
        by_provider_id = {(m.inbox_id, m.provider_message_id): m for m in found if m.provider_message_id}
        by_send_key = {(m.inbox_id, m.send_key): m for m in found}
        for inbox, update, send_key in updates:
            message = None
            if update.provider_message_id:
                message = by_provider_id.get((inbox.pk, update.provider_message_id))
            if message is None and (key := _uuid(send_key)):
                message = by_send_key.get((inbox.pk, key))
            if message is None:
                unmatched.append(unmatched_status(inbox, update, send_key))
                continue
            fields = status_changes(message, update)
            if fields:
                changed.setdefault(message.pk, (message, set()))[1].update(fields)
                if "provider_message_id" in fields:
                    by_provider_id[(inbox.pk, message.provider_message_id)] = message
        by_fields: dict[frozenset[str], list[Message]] = {}
        for message, fields in changed.values():
            by_fields.setdefault(frozenset(fields), []).append(message)
        for fields, messages in by_fields.items():
            Message.objects.bulk_update(messages, sorted(fields))
        for message_id in changed:
            publish(events.MESSAGE_UPDATED, {"message_id": message_id})
        if unmatched:
            publish(events.STATUSES_UNMATCHED, {"statuses": unmatched})
    return len(changed)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
