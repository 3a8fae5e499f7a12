"""SLA of a team's conversations: deadlines within its business hours, and breaches flagged once.

A conversation that joins a team's queue (a new inbound conversation of an inbox with a default
team, a transfer to a team) gets `first_response_due_at` (met by the first agent message,
`first_response_at`) and `resolution_due_at` (met by closing it), counted from when it joined the
queue in the team's open time (`apps.teams.hours`). A deadline that passes unmet flags the
conversation once (`sla_breached`, `sla_breached_at`): a timeline event, `conversation.updated` and
a notification to the team's supervisors (the admins when it has none).
"""

import datetime as dt

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.conversations import events
from apps.conversations.models import Conversation, TimelineEvent
from apps.notifications.services import notify
from apps.teams.hours import add_business_seconds
from apps.teams.models import Team
from conversa.events import publish

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
# Conversations a sweep flags at most; the next minute's sweep takes the rest.
SWEEP_LIMIT = 500


def sla_deadlines(team: Team | None, start: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first response, resolution) deadlines of a conversation joining `team`'s queue at `start`;
    None for a target the team does not set (or hours that never open)."""
    if team is None:
        return None, None

    def due(seconds):
        return add_business_seconds(team.business_hours, start, seconds) if seconds else None

    return due(team.sla_first_response_seconds), due(team.sla_resolution_seconds)


def sla_start(*, conversation_ids) -> dict[int, list[dt.datetime]]:
    """Set the deadlines of these conversations from their team and when they joined its queue.

    Idempotent (the same team and queue time give the same deadlines), and a conversation moved
    again meanwhile is left to the event of that move: the write is conditional on the team and
    queue time read here. An answered conversation keeps its first-response deadline. Returns, for
    each conversation changed that is still open to a breach, its deadlines (to check each then).
    """
    changed: dict[int, list[dt.datetime]] = {}
    conversations = Conversation.objects.filter(pk__in=list(conversation_ids)).select_related("team")
    for conversation in conversations:
        start = conversation.queued_at or conversation.created_at
        first_due, resolution_due = sla_deadlines(conversation.team, start)
        if conversation.first_response_at is not None:
            first_due = conversation.first_response_due_at
        current = (conversation.first_response_due_at, conversation.resolution_due_at)
        if (first_due, resolution_due) == current:
            continue
        with transaction.atomic():
            updated = Conversation.objects.filter(
                pk=conversation.pk, team_id=conversation.team_id, queued_at=conversation.queued_at
            ).update(
                first_response_due_at=first_due, resolution_due_at=resolution_due, updated_at=timezone.now()
            )
            if not updated:
                continue
            publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
        deadlines = [due for due in (first_due, resolution_due) if due is not None]
        if deadlines and conversation.status in Conversation.ACTIVE_STATUSES:
            changed[conversation.pk] = sorted(set(deadlines))
    return changed


def sla_restart_resolution(*, conversation_ids, at: dt.datetime) -> dict[int, list[dt.datetime]]:
    """Reopened conversations must be resolved again: their resolution deadline counts anew from
    `at` (when they reopened) in their team's hours; the first response keeps its own. Returns the
    new deadlines, as `sla_start`."""
    changed: dict[int, list[dt.datetime]] = {}
    conversations = Conversation.objects.filter(
        pk__in=list(conversation_ids), status__in=Conversation.ACTIVE_STATUSES
    ).select_related("team")
    for conversation in conversations:
        _first, due = sla_deadlines(conversation.team, at)
        if due == conversation.resolution_due_at:
            continue
        with transaction.atomic():
            updated = Conversation.objects.filter(
                pk=conversation.pk, team_id=conversation.team_id, status__in=Conversation.ACTIVE_STATUSES
            ).update(resolution_due_at=due, updated_at=timezone.now())
            if not updated:
                continue
            publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
        if due is not None:
            changed[conversation.pk] = [due]
    return changed


def _first_response_missed(now: dt.datetime) -> Q:
    due = F("first_response_due_at")
    return (
        Q(first_response_due_at__lt=now)
        & (Q(first_response_at__isnull=True) | Q(first_response_at__gt=due))
        # Closed in time without an answer: nobody was left waiting.
        & ~Q(closed_at__lte=due)
    )


def _resolution_missed(now: dt.datetime) -> Q:
    return Q(resolution_due_at__lt=now) & ~Q(closed_at__lte=F("resolution_due_at"))


def breached(now: dt.datetime) -> Q:
    """Conversations not flagged yet with a deadline passed unmet at `now`."""
    return Q(sla_breached=False) & (_first_response_missed(now) | _resolution_missed(now))


def sla_breaches_flag(*, now: dt.datetime | None = None, conversation_ids=None) -> int:
    """Flag every conversation whose deadline passed unmet (or only these); returns how many.

    Exactly once however many workers sweep at the same time: each is flagged under its row lock,
    skipping rows another worker holds, and only while still unflagged.
    """
    now = now or timezone.now()
    due = Conversation.objects.filter(breached(now))
    if conversation_ids is not None:
        due = due.filter(pk__in=list(conversation_ids))
    flagged = 0
    for pk in list(due.order_by("pk").values_list("pk", flat=True)[:SWEEP_LIMIT]):
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(breached(now), pk=pk)
                .select_related("team")
                .first()
            )
            if conversation is None:
                continue
            _flag(conversation, now)
            flagged += 1
    return flagged


def _flag(conversation: Conversation, now: dt.datetime) -> None:
    first_due, answered = conversation.first_response_due_at, conversation.first_response_at
    first_missed = (
        first_due is not None and first_due < now
        and (answered is None or answered > first_due)
        and not (conversation.closed_at is not None and conversation.closed_at <= first_due)
    )
    missed = FIRST_RESPONSE if first_missed else RESOLUTION
    due_at = first_due if first_missed else conversation.resolution_due_at
    conversation.sla_breached, conversation.sla_breached_at = True, now
    conversation.save(update_fields=["sla_breached", "sla_breached_at", "updated_at"])
    TimelineEvent.objects.create(
        conversation=conversation, kind="sla_breached",
        data={"deadline": missed, "due_at": due_at.isoformat()},
    )
    publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
    _notify_supervisors(conversation, missed)


def team_supervisors(team: Team | None) -> list[User]:
    """Who hears of a team's breaches: its active supervisors, else the company's admins."""
    supervisors = []
    if team is not None:
        supervisors = list(
            User.objects.filter(
                team_memberships__team=team, role=User.Role.SUPERVISOR, is_active=True
            ).distinct()
        )
    return supervisors or list(User.objects.filter(role=User.Role.ADMIN, is_active=True))


def _notify_supervisors(conversation: Conversation, missed: str) -> None:
    by_language: dict[str, list[User]] = {}
    for user in team_supervisors(conversation.team):
        by_language.setdefault(user.language or "en", []).append(user)
    for language, users in by_language.items():
        with translation.override(language):
            notify(
                users=users,
                kind="sla_breached",
                title=_("SLA breached: conversation #%(id)s") % {"id": conversation.pk},
                body=(
                    _("The first response deadline passed.") if missed == FIRST_RESPONSE
                    else _("The resolution deadline passed.")
                ),
                data={
                    "conversation_id": conversation.pk, "team_id": conversation.team_id, "deadline": missed,
                },
            )
