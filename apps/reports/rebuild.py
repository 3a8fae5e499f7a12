"""Rebuilding the rollups from the raw data (after a deploy that adds them, a restore, or to
check them): the same computations the listeners run, over every conversation and message, or
those since a date. The figures afterwards are the ones the events kept."""

import datetime as dt
import time

from django.db import connection, transaction

from apps.reports.counters import counters_rebuild
from apps.reports.facts import facts_refresh
from apps.reports.models import ConversationFact


def reports_rebuild(*, since: dt.datetime | None = None) -> dict:
    """Rebuild the current schema's rollups (all of them, or what happened since `since`).
    Returns `{facts, counted_upto, seconds}`."""
    started = time.monotonic()
    with transaction.atomic():
        if since is None:
            ConversationFact.objects.all().delete()
        facts = facts_refresh(since=since)
    upto = counters_rebuild(since=since)
    with connection.cursor() as cursor:
        # Fresh statistics, or the planner scans whole tables for one day's rows until autovacuum runs.
        cursor.execute("ANALYZE reports_conversationfact, reports_messagehour, reports_messageminute")
    return {"facts": facts, "counted_upto": upto, "seconds": round(time.monotonic() - started, 2)}
