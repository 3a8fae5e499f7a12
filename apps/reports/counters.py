"""Messages in and out, counted per hour (reports) and per minute (the live dashboard's last hour).

Each batch of `message.created` events becomes one `INSERT … SELECT … ON CONFLICT DO UPDATE SET
n = n + excluded.n` per table; the rebuild runs the same SELECT over a time range, so both count a
message alike: in the UTC hour it was created, on its inbox, for the team of its conversation and
for its author (an outbound message) or the conversation's assignee (an inbound one), as they are
when the count is written. A message the last rebuild counted (id ≤ `RollupState.counted_upto`) is
skipped by the incremental path.
"""

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from apps.reports.models import MessageHour, MessageMinute, RollupState
from conversa.redis import get_redis, redis_key

# The live dashboard reads the last hour; older minutes are pruned, at most every PRUNE_EVERY.
MINUTES_KEPT = dt.timedelta(hours=2)
PRUNE_EVERY = dt.timedelta(minutes=10)

_COUNTED = """
    SELECT {bucket} AS bucket, {keys},
           count(*) FILTER (WHERE m.direction = 'inbound') AS inbound,
           count(*) FILTER (WHERE m.direction = 'outbound') AS outbound
    FROM conversations_message m JOIN conversations_conversation c ON c.id = m.conversation_id
    WHERE {where}
    GROUP BY 1, {groups}
"""
_HOUR_KEYS = ("m.inbox_id, COALESCE(c.team_id, 0), COALESCE(CASE WHEN m.direction = 'outbound' "
              "THEN m.sender_user_id ELSE c.assignee_id END, 0)")
_HOUR_INSERT = """
    INSERT INTO reports_messagehour (hour, inbox_id, team_id, agent_id, inbound, outbound)
    {select}
    ON CONFLICT (hour, inbox_id, team_id, agent_id) DO UPDATE
    SET inbound = reports_messagehour.inbound + excluded.inbound,
        outbound = reports_messagehour.outbound + excluded.outbound
"""
_MINUTE_INSERT = """
    INSERT INTO reports_messageminute (minute, team_id, inbound, outbound)
    {select}
    ON CONFLICT (minute, team_id) DO UPDATE
    SET inbound = reports_messageminute.inbound + excluded.inbound,
        outbound = reports_messageminute.outbound + excluded.outbound
"""
_NOT_COUNTED = "m.id > COALESCE((SELECT max(counted_upto) FROM reports_rollupstate), 0)"


def _hour_select(where: str) -> str:
    return _COUNTED.format(bucket="date_trunc('hour', m.created_at)", keys=_HOUR_KEYS, where=where,
                           groups="2, 3, 4")


def _minute_select(where: str) -> str:
    return _COUNTED.format(bucket="date_trunc('minute', m.created_at)", keys="COALESCE(c.team_id, 0)",
                           where=where, groups="2")


def messages_count(message_ids: list[int]) -> None:
    """Add these messages (the ids of `message.created` events) to the counters."""
    if not message_ids:
        return
    where = f"m.id = ANY(%s) AND {_NOT_COUNTED}"
    recent = f"{where} AND m.created_at >= %s"
    with connection.cursor() as cursor:
        cursor.execute(_HOUR_INSERT.format(select=_hour_select(where)), [list(message_ids)])
        cursor.execute(_MINUTE_INSERT.format(select=_minute_select(recent)),
                       [list(message_ids), timezone.now() - MINUTES_KEPT])
    if get_redis().set(redis_key("reports", "minutes-pruned", connection.schema_name), 1, nx=True,
                       ex=int(PRUNE_EVERY.total_seconds())):
        minutes_prune()


def minutes_prune(now: dt.datetime | None = None) -> int:
    deleted, _ = MessageMinute.objects.filter(minute__lt=(now or timezone.now()) - MINUTES_KEPT).delete()
    return deleted


def counters_rebuild(*, since: dt.datetime | None = None) -> int:
    """Count again every message created since `since` (all when None), replacing those hours.

    One transaction that holds off the incremental upserts (table lock) and records the highest
    message id it counted, which they then skip. Returns that id.
    """
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE reports_messagehour, reports_messageminute IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT COALESCE(max(id), 0) FROM conversations_message")
        upto = cursor.fetchone()[0]
        hours = MessageHour.objects.all()
        where, params = "m.id <= %s", [upto]
        if since is not None:
            start = since.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
            hours = hours.filter(hour__gte=start)
            where, params = f"{where} AND m.created_at >= %s", [upto, start]
        hours.delete()
        # In time order, so a report's range reads neighbouring pages.
        cursor.execute(_HOUR_INSERT.format(select=_hour_select(where) + " ORDER BY 1"), params)
        MessageMinute.objects.all().delete()
        cursor.execute(_MINUTE_INSERT.format(select=_minute_select("m.id <= %s AND m.created_at >= %s")),
                       [upto, now - MINUTES_KEPT])
        state = RollupState.objects.select_for_update().first() or RollupState()
        state.counted_upto, state.rebuilt_at = upto, now
        state.save()
    return upto
