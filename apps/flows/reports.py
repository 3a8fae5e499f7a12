"""Figures of flows for a period, for the reports (`GET /api/v1/reports/flows`)."""

import datetime as dt

from django.db.models import Count, Q

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.flows.models import Flow, FlowSession


def flows_report(*, actor: Actor, date_from: dt.datetime, date_to: dt.datetime,
                 inbox_team_ids: list[int] | None = None) -> list[dict]:
    """Per flow (deleted ones included while they have sessions in the period): sessions started in
    [date_from, date_to) and how those ended so far: completed, handed off, dropped (invalid answers
    used up, stopped, flow deleted), timed out, still running. One grouped query. `inbox_team_ids`
    keeps the sessions on inboxes those teams answer (a supervisor's report)."""
    permissions.check(actor, "flows.read")
    started = Q(sessions__started_at__gte=date_from, sessions__started_at__lt=date_to)
    if inbox_team_ids is not None:
        started &= Q(sessions__conversation__inbox__default_team_id__in=inbox_team_ids)

    def count(status=None):
        where = started & Q(sessions__status=status) if status else started
        return Count("sessions", filter=where)

    rows = (
        Flow.objects.annotate(
            started=count(), completed=count(FlowSession.Status.COMPLETED),
            handed_off=count(FlowSession.Status.HANDED_OFF), dropped=count(FlowSession.Status.DROPPED),
            timed_out=count(FlowSession.Status.TIMED_OUT), running=count(FlowSession.Status.RUNNING),
        )
        .filter(Q(deleted_at__isnull=True) | Q(started__gt=0))
        .order_by("name", "pk")
        .values("pk", "name", "started", "completed", "handed_off", "dropped", "timed_out", "running")
    )
    return [{"flow_id": row.pop("pk"), **row} for row in rows]
