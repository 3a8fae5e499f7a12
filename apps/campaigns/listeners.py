"""What campaigns hear from the apps below them: delivery statuses of their sends, and replies.

- `message.statuses_unmatched` (conversations found no message of theirs for these provider ids or
  send keys): statuses of campaign sends. They settle a recipient a dead worker left `sending` and
  move sent → delivered → read, never backwards; a `failed` recipient we marked
  `delivery_unknown` is overtaken by any word from the provider.
- `message.created` of an inbound message: a whole-message opt-out word (`OPT_OUT_WORDS`, case-blind)
  opts the contact out of campaigns; and the first reply of a recipient within `control.REPLY_WINDOW` of a
  campaign's send on that inbox links the conversation to the campaign (recipient.conversation and
  a `campaign_reply` timeline entry naming the campaign and the text it sent).

Both run after the drain's commit, per batch of events: a few queries per batch, none per message.
"""

import datetime as dt
import logging
import uuid
from collections import defaultdict
from contextlib import nullcontext

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.campaigns import control
from apps.campaigns.events import CAMPAIGN_PROGRESS
from apps.campaigns.models import CampaignRecipient
from apps.campaigns.selectors import campaign_message_for
from apps.contacts.models import Contact
from apps.contacts.services import contact_set_opt_out
from apps.conversations import events as conversation_events
from apps.conversations.models import DELIVERY_UNKNOWN, Message, TimelineEvent
from conversa.events import Event, publish, subscribe_batch
from tenants.usage import usage_increment

logger = logging.getLogger("conversa.campaigns")

# Replies that opt a contact out when they are the whole message (any case, surrounding spaces and
# a final period or exclamation mark ignored): English, Portuguese and Spanish, the product's
# languages. A deployment may replace them with the CAMPAIGN_OPT_OUT_WORDS setting.
OPT_OUT_WORDS = ("stop", "parar", "baja")
STAMPS = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}


def opt_out_words() -> frozenset[str]:
    return frozenset(word.casefold() for word in getattr(settings, "CAMPAIGN_OPT_OUT_WORDS", OPT_OUT_WORDS))


def is_opt_out(text: str) -> bool:
    return (text or "").strip().rstrip(".!").strip().casefold() in opt_out_words()


@subscribe_batch
def campaigns_hear(batch: list[Event]) -> None:
    statuses, inbound = defaultdict(list), defaultdict(list)
    for event in batch:
        if event.name == conversation_events.STATUSES_UNMATCHED:
            statuses[event.schema_name] += event.data.get("statuses", [])
        elif event.name == conversation_events.MESSAGE_CREATED and event.data.get("direction") == "inbound":
            inbound[event.schema_name].append(event.data["message_id"])
    for schema_name in sorted(set(statuses) | set(inbound)):
        try:
            with _in_schema(schema_name):
                if statuses.get(schema_name):
                    recipients_apply_statuses(statuses[schema_name])
                if inbound.get(schema_name):
                    replies_receive(inbound[schema_name])
        except Exception:
            logger.exception("campaign listeners failed in %s", schema_name)


def _in_schema(schema_name: str):
    # Entering the schema the drain is already in would cost two SET search_path for nothing.
    return nullcontext() if connection.schema_name == schema_name else schema_context(schema_name)


def _parse_time(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return timezone.now()


def _changes(recipient: CampaignRecipient, status: dict) -> list[str]:
    """Apply one provider status to the (locked) recipient in memory; the fields it changed."""
    changed = []
    at = _parse_time(status["timestamp"])
    if status["provider_message_id"] and not recipient.provider_message_id:
        recipient.provider_message_id = status["provider_message_id"][:200]
        changed.append("provider_message_id")
    field = STAMPS.get(status["status"])
    if field is None:
        return changed
    if getattr(recipient, field) is None:
        setattr(recipient, field, at)
        changed.append(field)
    rank = CampaignRecipient.RANK
    current = -1 if recipient.status == CampaignRecipient.Status.FAILED and \
        recipient.reason == DELIVERY_UNKNOWN else rank.get(recipient.status, 99)
    if status["status"] == "failed":
        if recipient.status in (CampaignRecipient.Status.QUEUED, CampaignRecipient.Status.SENDING,
                                CampaignRecipient.Status.SENT) or current == -1:
            recipient.status = CampaignRecipient.Status.FAILED
            recipient.reason = (status.get("error_code") or "failed")[:50]
            recipient.error_message = (status.get("error_message") or "")[:500]
            recipient.claimed_until = None
            changed += ["status", "reason", "error_message", "claimed_until"]
    elif rank[status["status"]] > current:
        recipient.status = status["status"]
        recipient.claimed_until = None
        if current == -1:
            recipient.reason, recipient.error_message = "", ""
            changed += ["reason", "error_message"]
        changed += ["status", "claimed_until"]
        for earlier in ("sent", "delivered"):
            if rank[earlier] < rank[status["status"]] and getattr(recipient, STAMPS[earlier]) is None:
                setattr(recipient, STAMPS[earlier], at)
                changed.append(STAMPS[earlier])
    return sorted(set(changed))


def _uuid(value) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except (TypeError, ValueError):
        return None


def recipients_apply_statuses(statuses: list[dict]) -> int:
    """Apply provider statuses to the recipients they name (by provider id, else by send key, on the
    campaign's inbox), in their order; returns how many recipients changed."""
    ids = {s["provider_message_id"] for s in statuses if s.get("provider_message_id")}
    keys = {key for s in statuses if (key := _uuid(s.get("send_key")))}
    if not ids and not keys:
        return 0
    changed: dict[int, tuple[CampaignRecipient, set[str], bool]] = {}
    with transaction.atomic():
        found = list(
            CampaignRecipient.objects.select_for_update(of=("self",)).select_related("campaign")
            .filter(Q(provider_message_id__in=ids) | Q(send_key__in=keys)).order_by("pk")
        )
        by_id = {(r.campaign.inbox_id, r.provider_message_id): r for r in found if r.provider_message_id}
        by_key = {(r.campaign.inbox_id, str(r.send_key)): r for r in found}
        newly_sent = 0
        for status in statuses:
            recipient = by_id.get((status["inbox_id"], status.get("provider_message_id")))
            if recipient is None:
                recipient = by_key.get((status["inbox_id"], _uuid(status.get("send_key"))))
            if recipient is None:
                continue
            was_out = recipient.status in ("sent", "delivered", "read") or recipient.provider_message_id
            fields = _changes(recipient, status)
            if fields:
                entry = changed.setdefault(recipient.pk, (recipient, set(), False))
                entry[1].update(fields)
                if not was_out and recipient.status in ("sent", "delivered", "read"):
                    newly_sent += 1  # settled by the provider's word: it was taken after all
                if recipient.provider_message_id:
                    by_id[(recipient.campaign.inbox_id, recipient.provider_message_id)] = recipient
        by_fields: dict[frozenset[str], list[CampaignRecipient]] = {}
        for recipient, fields, _ in changed.values():
            by_fields.setdefault(frozenset(fields), []).append(recipient)
        for fields, recipients in by_fields.items():
            CampaignRecipient.objects.bulk_update(recipients, sorted(fields))
        if newly_sent:
            usage_increment(
                schema_name=connection.schema_name, counter="outbound_messages", amount=newly_sent
            )
        for campaign_id in sorted({recipient.campaign_id for recipient, _, _ in changed.values()}):
            publish(CAMPAIGN_PROGRESS, {"campaign_id": campaign_id})
    return len(changed)


def replies_receive(message_ids: list[int]) -> None:
    messages = list(
        Message.objects.filter(pk__in=message_ids, direction=Message.Direction.INBOUND)
        .values("id", "text", "inbox_id", "conversation_id", "conversation__contact_id")
    )
    if not messages:
        return
    for message in messages:
        if is_opt_out(message["text"]):
            contact = Contact.objects.filter(pk=message["conversation__contact_id"], opted_out=False).first()
            if contact is not None:
                contact_set_opt_out(contact=contact, opted_out=True)
    _link_replies(messages)


def _link_replies(messages: list[dict]) -> None:
    """Link each contact's first reply after a campaign's send (on the campaign's inbox) to it.

    Costs no query on inboxes no campaign sent on within REPLY_WINDOW (a Redis flag per inbox the
    sender keeps), and one read when none of these contacts is waiting for a reply."""
    recent = control.sent_recently(connection.schema_name, [message["inbox_id"] for message in messages])
    messages = [message for message in messages if message["inbox_id"] in recent]
    if not messages:
        return
    contact_ids = {message["conversation__contact_id"] for message in messages}
    since = timezone.now() - control.REPLY_WINDOW
    waiting = CampaignRecipient.objects.filter(
        contact_id__in=contact_ids, conversation__isnull=True, sent_at__gte=since,
        status__in=("sent", "delivered", "read"),
    )
    if not waiting.exists():
        return
    with transaction.atomic():
        waiting = list(waiting.select_for_update(of=("self",), skip_locked=True)
                       .select_related("campaign", "contact").order_by("-sent_at"))
        linked = set()
        for message in messages:
            key = (message["conversation__contact_id"], message["inbox_id"])
            if key in linked:
                continue
            recipient = next((r for r in waiting if (r.contact_id, r.campaign.inbox_id) == key
                              and r.conversation_id is None), None)
            if recipient is None:
                continue
            linked.add(key)
            recipient.conversation_id, recipient.replied_at = message["conversation_id"], timezone.now()
            recipient.save(update_fields=["conversation", "replied_at"])
            TimelineEvent.objects.create(
                conversation_id=message["conversation_id"], kind="campaign_reply",
                data={"campaign_id": recipient.campaign_id, "campaign_name": recipient.campaign.name,
                      "text": campaign_message_for(recipient.campaign, recipient.contact)["text"]},
            )
            publish(conversation_events.CONVERSATION_UPDATED, {"conversation_id": message["conversation_id"]})
