"""One fact row per conversation, derived from its current row alone (so refreshing is idempotent
and a rebuild gives what the events gave): opened, answered and closed times, the first response
and resolution in the business hours of its team (`apps.teams.hours`, the SLA's calendar), the SLA
verdict, outcome and CSAT.
"""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q

from apps.conversations.models import Conversation
from apps.reports.models import ConversationFact
from apps.teams.hours import business_seconds_between
from apps.teams.models import Team

_FIELDS = (
    "id", "inbox_id", "team_id", "assignee_id", "created_at", "first_response_at", "closed_at",
    "first_response_due_at", "resolution_due_at", "sla_breached", "outcome", "outcome_value",
    "csat_rating",
)
_UPDATED = [field.name for field in ConversationFact._meta.concrete_fields if not field.primary_key]
CHUNK = 5000


def sla_verdict(row: dict) -> str:
    """`met` when every deadline the conversation had was kept, `breached` when one was missed
    (flagged by the SLA sweep, or visibly late from the times), `pending` while one is undecided,
    "" without deadlines."""
    first_due, resolution_due = row["first_response_due_at"], row["resolution_due_at"]
    if first_due is None and resolution_due is None:
        return ConversationFact.Sla.NONE
    answered, closed = row["first_response_at"], row["closed_at"]
    late = row["sla_breached"] or (
        first_due is not None and answered is not None and answered > first_due
    ) or (resolution_due is not None and closed is not None and closed > resolution_due)
    if late:
        return ConversationFact.Sla.BREACHED
    first_kept = first_due is None or (answered is not None and answered <= first_due) or (
        closed is not None and closed <= first_due
    )
    resolved = resolution_due is None or (closed is not None and closed <= resolution_due)
    return ConversationFact.Sla.MET if first_kept and resolved else ConversationFact.Sla.PENDING


def fact_of(row: dict, hours: dict | None) -> ConversationFact:
    opened = row["created_at"]

    def within_hours(until: dt.datetime | None) -> int | None:
        return None if until is None else business_seconds_between(hours, opened, until)

    return ConversationFact(
        conversation_id=row["id"], inbox_id=row["inbox_id"], team_id=row["team_id"],
        agent_id=row["assignee_id"], opened_at=opened, first_response_at=row["first_response_at"],
        closed_at=row["closed_at"], first_response_seconds=within_hours(row["first_response_at"]),
        resolution_seconds=within_hours(row["closed_at"]), sla=sla_verdict(row),
        outcome=row["outcome"] or "", outcome_value=row["outcome_value"], csat_rating=row["csat_rating"],
    )


def facts_refresh(conversation_ids: Iterable[int] | None = None, *, since: dt.datetime | None = None) -> int:
    """Write the facts of these conversations (all of them when None; with `since`, those opened,
    answered or closed since then) from their current rows: one read and one upsert per chunk.
    Returns how many were written."""
    conversations = Conversation.objects.order_by("pk")
    if conversation_ids is not None:
        conversations = conversations.filter(pk__in=list(conversation_ids))
    if since is not None:
        conversations = conversations.filter(
            Q(created_at__gte=since) | Q(first_response_at__gte=since) | Q(closed_at__gte=since)
        )
    hours: dict[int, dict] = {}
    written, last = 0, 0
    while True:
        rows = list(conversations.filter(pk__gt=last).values(*_FIELDS)[:CHUNK])
        if not rows:
            return written
        unknown = {row["team_id"] for row in rows if row["team_id"] is not None} - set(hours)
        if unknown:
            hours.update(Team.objects.filter(pk__in=unknown).values_list("pk", "business_hours"))
        facts = [fact_of(row, hours.get(row["team_id"])) for row in rows]
        ConversationFact.objects.bulk_create(
            facts, update_conflicts=True, unique_fields=["conversation"], update_fields=_UPDATED,
        )
        written += len(facts)
        last = rows[-1]["id"]
        if len(rows) < CHUNK:
            return written
