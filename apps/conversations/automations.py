"""Inbox automations that act by themselves: the greeting, the offline (away) message, snoozed
conversations waking up and idle ones closing.

Each is idempotent (safe to run twice, by two workers, or again after a crash) and runs in a worker,
never in the webhook drain: `automation_tasks` queues them after the events that call for them.
What they send goes through `outbound.message_send(automatic=True)`: from the system, through the
same quota, daily limit and service window as any message, without touching the status or queue.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.conversations import events
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.outbound import message_send
from apps.conversations.services import conversation_close
from apps.inboxes.models import Inbox
from apps.notifications.services import notify
from apps.teams.hours import closed_period_start
from conversa.errors import DomainError
from conversa.events import publish

logger = logging.getLogger("conversa.automations")

AUTO_CLOSE_REASON = "auto_close"
# Conversations one run wakes or closes at most; the next minute's run takes the rest.
BATCH_LIMIT = 500
GREETED = "greeted"


def _send(conversation: Conversation, text: str) -> Message | None:
    """Send `text` as the company; a refusal (daily limit, service window, blocked contact…) is
    logged and nothing is sent, in a savepoint so the caller's transaction goes on."""
    try:
        with transaction.atomic():
            return message_send(conversation=conversation, author=None, text=text[:4096], automatic=True)
    except DomainError as exc:
        logger.info("automatic message to conversation %s not sent: %s", conversation.pk, exc.code)
        return None


def worth_a_task(*, created, queued, written_to, reopened=()) -> bool:
    """Whether any automation may act on these conversations (new ones, ones that joined a queue or
    reopened, ones a customer wrote to): one indexed query, so the commit that published them
    queues no task for a company that set nothing up."""
    created, written_to = list(created), list(written_to)
    queued = list(queued) + list(reopened)
    if not (created or queued or written_to):
        return False
    targets = (
        Q(team__sla_first_response_seconds__isnull=False) | Q(team__sla_resolution_seconds__isnull=False)
    )
    greets = Q(pk__in=created) & ~Q(inbox__greeting_message="")
    deadlines = Q(pk__in=created + queued) & (
        targets | Q(first_response_due_at__isnull=False) | Q(resolution_due_at__isnull=False)
    )
    closed_hours = (
        Q(pk__in=written_to) & Q(team__isnull=False) & ~Q(team__business_hours={})
        & (~Q(team__offline_message="") | ~Q(inbox__away_message=""))
    )
    return Conversation.objects.filter(greets | deadlines | closed_hours).exists()


def greeting_candidates(conversation_ids) -> list[int]:
    """Those of these conversations whose inbox greets, in one query: with no automation set up, a
    burst of new conversations costs the worker this and nothing more."""
    return list(
        Conversation.objects.filter(pk__in=list(conversation_ids)).exclude(inbox__greeting_message="")
        .order_by("pk").values_list("pk", flat=True)
    )


def offline_candidates(message_ids) -> list[int]:
    """Those of these inbound messages that came while their conversation's team was closed, with
    something to say and not said yet in that closed period: one query, the hours worked out in
    memory. `offline_notice_send` decides again under the conversation's lock."""
    rows = (
        Message.objects.filter(
            pk__in=list(message_ids), direction=Message.Direction.INBOUND, conversation__team__isnull=False
        )
        .order_by("pk")
        .values_list(
            "pk", "created_at", "conversation__team__business_hours", "conversation__team__offline_message",
            "conversation__inbox__away_message", "conversation__offline_notice_period",
        )
    )
    wanted = []
    for pk, at, hours, offline_message, away_message, notified in rows:
        if not hours or not (offline_message or away_message).strip():
            continue
        period = closed_period_start(hours, at)
        if period is not None and period != notified:
            wanted.append(pk)
    return wanted


def greeting_send(*, conversation_id: int) -> Message | None:
    """The inbox's greeting, once, to a conversation its customer started (not to one an agent
    started, nor while a bot flow talks). Once: a timeline mark written with the message, checked
    under the conversation's row lock."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",)).select_related("inbox")
            .filter(pk=conversation_id).first()
        )
        if conversation is None:
            return None
        text = conversation.inbox.greeting_message.strip()
        if not text or conversation.status not in (
            Conversation.Status.QUEUED, Conversation.Status.OPEN, Conversation.Status.PENDING
        ):
            return None
        if conversation.timeline.filter(kind=GREETED).exists():
            return None
        if not conversation.messages.filter(direction=Message.Direction.INBOUND).exists():
            return None
        message = _send(conversation, text)
        if message is not None:
            TimelineEvent.objects.create(
                conversation=conversation, kind=GREETED, data={"message_id": message.pk}
            )
    return message


def offline_notice_send(*, message_id: int) -> Message | None:
    """Answer a customer who wrote while the conversation's team was closed: the team's offline
    message, else the inbox's away message; once per conversation per closed period (the period's
    key is kept on the conversation, compared and set under its row lock)."""
    inbound = (
        Message.objects.filter(pk=message_id, direction=Message.Direction.INBOUND)
        .values("conversation_id", "created_at").first()
    )
    if inbound is None:
        return None
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",)).select_related("team", "inbox")
            .filter(pk=inbound["conversation_id"]).first()
        )
        if conversation is None or conversation.team is None or not conversation.team.business_hours:
            return None
        if conversation.status not in (
            Conversation.Status.QUEUED, Conversation.Status.OPEN, Conversation.Status.PENDING
        ):
            return None
        period = closed_period_start(conversation.team.business_hours, inbound["created_at"])
        if period is None or period == conversation.offline_notice_period:
            return None
        text = (conversation.team.offline_message or conversation.inbox.away_message).strip()
        if not text:
            return None
        message = _send(conversation, text)
        if message is not None:
            Conversation.objects.filter(pk=conversation.pk).update(offline_notice_period=period)
    return message


def snooze_wake(*, conversation_id: int, now: dt.datetime | None = None) -> bool:
    """Wake a conversation whose snooze has run out: back to `open` (from `pending`), the snooze
    cleared, a timeline event, its events and a notification to the assignee. Idempotent: one not
    snoozed any more, or snoozed again to later, is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",)).select_related("assignee")
            .filter(pk=conversation_id, snoozed_until__lte=now).first()
        )
        if conversation is None:
            return False
        previous = conversation.status
        conversation.snoozed_until = None
        if previous == Conversation.Status.PENDING:
            conversation.status = Conversation.Status.OPEN
            publish(
                events.CONVERSATION_STATUS_CHANGED,
                {"conversation_id": conversation.pk, "from": previous, "to": conversation.status},
            )
        conversation.save(update_fields=["snoozed_until", "status", "updated_at"])
        TimelineEvent.objects.create(
            conversation=conversation, kind="snooze_ended", data={"from": previous, "to": conversation.status}
        )
        publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
        assignee = conversation.assignee
        if assignee is not None and assignee.is_active:
            with translation.override(assignee.language or "en"):
                notify(
                    users=[assignee],
                    kind="snooze_ended",
                    title=_("Conversation #%(id)s is back from snooze") % {"id": conversation.pk},
                    data={"conversation_id": conversation.pk},
                )
    return True


def snoozes_wake_due(*, now: dt.datetime | None = None) -> int:
    """Wake every conversation whose snooze has run out (the backstop of the wake-up task queued
    for its time); returns how many woke."""
    now = now or timezone.now()
    due = Conversation.objects.filter(snoozed_until__lte=now).order_by("snoozed_until", "pk")
    due = list(due.values_list("pk", flat=True)[:BATCH_LIMIT])
    return sum(snooze_wake(conversation_id=pk, now=now) for pk in due)


def _idle(inbox: Inbox, now: dt.datetime):
    cutoff = now - dt.timedelta(hours=inbox.auto_close_after_hours)
    return (
        Conversation.objects.annotate(activity=Coalesce("last_message_at", "created_at"))
        .filter(inbox=inbox, status__in=Conversation.ACTIVE_STATUSES, activity__lt=cutoff)
        # Snoozed: someone chose to wait for it.
        .exclude(snoozed_until__gt=now)
    )


def idle_conversations_close(*, now: dt.datetime | None = None) -> int:
    """Close the conversations of inboxes with auto-close that had no message, either way, for
    that many hours: the inbox's closing message first (if any, and if WhatsApp still allows it),
    then closed with the reason "auto_close". Each under its row lock, re-checked there, skipping
    rows another worker holds; returns how many closed."""
    now = now or timezone.now()
    closed = 0
    for inbox in Inbox.objects.filter(auto_close_after_hours__isnull=False, is_active=True):
        idle = _idle(inbox, now).order_by("activity", "pk").values_list("pk", flat=True)
        for pk in list(idle[:BATCH_LIMIT]):
            with transaction.atomic():
                conversation = (
                    _idle(inbox, now).select_for_update(skip_locked=True, of=("self",)).filter(pk=pk).first()
                )
                if conversation is None:
                    continue
                text = inbox.auto_close_message.strip()
                if text:
                    _send(conversation, text)
                conversation_close(conversation=conversation, actor=None, reason=AUTO_CLOSE_REASON)
                closed += 1
    return closed
