"""The figures of the reports, read from the rollups (never from the messages): a summary, and the
same figures per agent, team and inbox; campaigns; trends per hour or day; all for a `Period` and
within the actor's `Scope`.

Counts of a range: conversations opened (opened in it), closed, first responses (answered in it)
and resolutions (closed in it), medians and p90 in business seconds (exact, `percentile_cont`),
the SLA verdicts of the conversations opened in it, outcomes and CSAT of those closed in it,
messages created in it, and the time agents spent in each status within it.
"""

from collections import defaultdict

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.selectors import campaign_stats_many
from apps.flows.reports import flows_report
from apps.inboxes.models import Inbox
from apps.reports.periods import Period, buckets
from apps.reports.scope import Scope, report_scope
from apps.teams.models import Team, TeamMember
from conversa.errors import ValidationFailed

GROUPS = {"agent": "agent_id", "team": "team_id", "inbox": "inbox_id"}
STATUSES = tuple(User.Status.values)

_IN = "{col} >= %(start)s AND {col} < %(end)s"
_OPENED, _CLOSED, _ANSWERED = (_IN.format(col=col) for col in ("opened_at", "closed_at", "first_response_at"))
_FACTS = f"""
    SELECT {{key}} AS key,
      count(*) FILTER (WHERE {_OPENED}) AS opened,
      count(*) FILTER (WHERE {_CLOSED}) AS closed,
      count(first_response_seconds) FILTER (WHERE {_ANSWERED}) AS answered,
      percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_response_seconds)
        FILTER (WHERE {_ANSWERED}),
      percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution_seconds) FILTER (WHERE {_CLOSED}),
      count(*) FILTER (WHERE sla = 'met' AND {_OPENED}) AS sla_met,
      count(*) FILTER (WHERE sla = 'breached' AND {_OPENED}) AS sla_breached,
      count(*) FILTER (WHERE sla = 'pending' AND {_OPENED}) AS sla_pending,
      avg(csat_rating) FILTER (WHERE {_CLOSED}) AS csat_average,
      {", ".join(f"count(*) FILTER (WHERE csat_rating = {n} AND {_CLOSED})" for n in range(1, 6))}
    FROM reports_conversationfact
    WHERE (({_OPENED}) OR ({_CLOSED}) OR ({_ANSWERED})) AND {{scope}}
    GROUP BY 1
"""
_OUTCOMES = f"""
    SELECT {{key}}, outcome, count(*), sum(outcome_value)
    FROM reports_conversationfact
    WHERE {_CLOSED} AND outcome <> '' AND {{scope}}
    GROUP BY 1, 2 ORDER BY 3 DESC, 2
"""
_MESSAGES = """
    SELECT {key}, sum(inbound), sum(outbound)
    FROM reports_messagehour
    WHERE hour >= %(start)s AND hour < %(end)s AND {scope}
    GROUP BY 1
"""
_STATUS_TIME = """
    SELECT user_id, status,
      sum(extract(epoch FROM least(COALESCE(ended_at, %(now)s), %(end)s) - greatest(started_at, %(start)s)))
    FROM accounts_agentstatusperiod
    WHERE started_at < %(end)s AND COALESCE(ended_at, %(now)s) > %(start)s AND {users}
    GROUP BY 1, 2
"""


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _params(period: Period, scope: Scope, **extra) -> dict:
    return {"start": period.start, "end": period.end, **scope.params, **extra}


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _empty() -> dict:
    return {
        "conversations": {"opened": 0, "closed": 0},
        "first_response": {"count": 0, "median_seconds": None, "p90_seconds": None},
        "resolution": {"count": 0, "median_seconds": None, "p90_seconds": None},
        "sla": {"met": 0, "breached": 0, "pending": 0, "compliance": None},
        "messages": {"inbound": 0, "outbound": 0},
        "outcomes": [],
        "csat": {"count": 0, "average": None, "distribution": {str(n): 0 for n in range(1, 6)}},
    }


def _figures(period: Period, scope: Scope, group: str | None) -> dict:
    """Figures per key of `group` (agent, team or inbox id; None for no team/agent) or, without a
    group, under the key "all"."""
    fact_key = GROUPS[group] if group else "'all'"
    params = _params(period, scope)
    figures: dict = defaultdict(_empty)
    for row in _rows(_FACTS.format(key=fact_key, scope=scope.sql("team_id")), params):
        (key, opened, closed, answered, first_response, resolution, met, breached, pending, csat_avg,
         *csat) = row
        # One sort per column gives both percentiles (NULL when no row qualified).
        fr50, fr90 = first_response or (None, None)
        res50, res90 = resolution or (None, None)
        item = figures[key]
        item["conversations"] = {"opened": opened, "closed": closed}
        item["first_response"] = {"count": answered, "median_seconds": _seconds(fr50),
                                  "p90_seconds": _seconds(fr90)}
        item["resolution"] = {"count": closed, "median_seconds": _seconds(res50),
                              "p90_seconds": _seconds(res90)}
        decided = met + breached
        item["sla"] = {"met": met, "breached": breached, "pending": pending,
                       "compliance": round(met / decided, 4) if decided else None}
        item["csat"] = {"count": sum(csat),
                        "average": round(float(csat_avg), 2) if csat_avg is not None else None,
                        "distribution": {str(n): csat[n - 1] for n in range(1, 6)}}
    outcomes = _rows(_OUTCOMES.format(key=fact_key, scope=scope.sql("team_id")), params)
    for key, outcome, count, value in outcomes:
        figures[key]["outcomes"].append(
            {"outcome": outcome, "count": count, "value": str(value) if value is not None else None})
    hour_key = {"agent": "NULLIF(agent_id, 0)", "team": "NULLIF(team_id, 0)",
                "inbox": "inbox_id"}.get(group, "'all'")
    for key, inbound, outbound in _rows(_MESSAGES.format(key=hour_key, scope=scope.sql("team_id")), params):
        figures[key]["messages"] = {"inbound": int(inbound), "outbound": int(outbound)}
    return figures


def _users_in(scope: Scope):
    users = User.objects.filter(is_active=True)
    if scope.team_ids is not None:
        users = users.filter(pk__in=TeamMember.objects.filter(team_id__in=scope.team_ids).values("user_id"))
    return users


def _status_time(period: Period, user_ids: list[int]) -> dict[int, dict[str, int]]:
    """Seconds each user spent in each status within the period (the open stretch counts until now)."""
    times: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    if not user_ids:
        return times
    sql = _STATUS_TIME.format(users="user_id = ANY(%(users)s)")
    params = {"start": period.start, "end": period.end, "now": timezone.now(), "users": user_ids}
    for user_id, status, seconds in _rows(sql, params):
        if status in STATUSES:
            times[user_id][status] += int(seconds)
    return times


def report_summary(actor: Actor, period: Period) -> dict:
    scope = report_scope(actor)
    figures = _figures(period, scope, None).get("all") or _empty()
    user_ids = list(_users_in(scope).values_list("pk", flat=True))
    totals = dict.fromkeys(STATUSES, 0)
    for per_status in _status_time(period, user_ids).values():
        for status, seconds in per_status.items():
            totals[status] += seconds
    return {"period": period.as_dict(), **figures, "agent_time": totals}


def report_agents(actor: Actor, period: Period) -> dict:
    scope = report_scope(actor)
    figures = _figures(period, scope, "agent")
    # Everyone in scope (admins answer too), and whoever else has figures (a user since deactivated).
    users = {user.pk: user for user in _users_in(scope)}
    missing = {key for key in figures if key is not None} - set(users)
    users.update({user.pk: user for user in User.objects.filter(pk__in=missing)})
    times = _status_time(period, list(users))
    items = []
    for user in sorted(users.values(), key=lambda u: ((u.name or u.email).casefold(), u.pk)):
        items.append({"agent_id": user.pk, "name": user.name or user.email, "role": user.role,
                      "status": user.status, **(figures.get(user.pk) or _empty()),
                      "agent_time": times.get(user.pk) or dict.fromkeys(STATUSES, 0)})
    if None in figures:
        items.append({"agent_id": None, "name": _("Unassigned"), "role": None, "status": None,
                      **figures[None], "agent_time": dict.fromkeys(STATUSES, 0)})
    return {"period": period.as_dict(), "items": items, "next_cursor": None}


def report_teams(actor: Actor, period: Period) -> dict:
    scope = report_scope(actor)
    figures = _figures(period, scope, "team")
    teams = Team.objects.order_by("name", "pk")
    if scope.team_ids is not None:
        teams = teams.filter(pk__in=scope.team_ids)
    items = [{"team_id": team.pk, "name": team.name, **(figures.get(team.pk) or _empty())} for team in teams]
    known = {item["team_id"] for item in items}
    for key in sorted(key for key in figures if key is not None and key not in known):
        items.append({"team_id": key, "name": _("Deleted team #%(id)s") % {"id": key}, **figures[key]})
    if scope.whole_company and None in figures:
        items.append({"team_id": None, "name": _("No team"), **figures[None]})
    return {"period": period.as_dict(), "items": items, "next_cursor": None}


def report_inboxes(actor: Actor, period: Period) -> dict:
    scope = report_scope(actor)
    figures = _figures(period, scope, "inbox")
    inboxes = Inbox.objects.order_by("name", "pk")
    if scope.team_ids is not None:
        # Supervisors: the inboxes their teams answer or that carried their teams' conversations.
        inboxes = inboxes.filter(Q(default_team_id__in=scope.team_ids) | Q(pk__in=list(figures)))
    items = [{"inbox_id": inbox.pk, "name": inbox.name, **(figures.get(inbox.pk) or _empty())}
             for inbox in inboxes]
    return {"period": period.as_dict(), "items": items, "next_cursor": None}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report_campaigns(actor: Actor, period: Period) -> dict:
    """Campaigns started (or, never started, created) in the period with their counts and rates;
    supervisors see those sent from inboxes their teams answer."""
    scope = report_scope(actor)
    campaigns = (Campaign.objects.select_related("inbox")
                 .annotate(began=Coalesce("started_at", "created_at"))
                 .filter(began__gte=period.start, began__lt=period.end).order_by("began", "pk"))
    if scope.team_ids is not None:
        campaigns = campaigns.filter(inbox__default_team_id__in=scope.team_ids)
    campaigns = list(campaigns)
    ids = [campaign.pk for campaign in campaigns]
    stats = campaign_stats_many(ids)
    replies = dict(CampaignRecipient.objects.filter(campaign_id__in=ids, conversation__isnull=False)
                   .order_by().values_list("campaign_id").annotate(n=Count("id")))
    items = []
    for campaign in campaigns:
        counts = stats[campaign.pk]
        items.append({
            "campaign_id": campaign.pk, "name": campaign.name, "status": campaign.status,
            "inbox_id": campaign.inbox_id, "inbox": campaign.inbox.name,
            "started_at": campaign.started_at, "completed_at": campaign.completed_at,
            "stats": counts, "replies": replies.get(campaign.pk, 0),
            "rates": {
                "delivery": _rate(counts["delivered"], counts["sent"]),
                "read": _rate(counts["read"], counts["sent"]),
                "failure": _rate(counts["failed"], counts["sent"] + counts["failed"]),
                "reply": _rate(replies.get(campaign.pk, 0), counts["sent"]),
            },
        })
    return {"period": period.as_dict(), "items": items, "next_cursor": None}


# metric → (table, time column, value expression)
_TREND_FACT = "reports_conversationfact"
METRICS = {
    "conversations_opened": (_TREND_FACT, "opened_at", "count(*)"),
    "conversations_closed": (_TREND_FACT, "closed_at", "count(*)"),
    "first_response_median": (_TREND_FACT, "first_response_at",
                              "percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response_seconds)"),
    "resolution_median": (_TREND_FACT, "closed_at",
                          "percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds)"),
    "csat_average": (_TREND_FACT, "closed_at", "avg(csat_rating)"),
    "sla_compliance": (_TREND_FACT, "opened_at",
                       "count(*) FILTER (WHERE sla = 'met')::float / "
                       "NULLIF(count(*) FILTER (WHERE sla IN ('met', 'breached')), 0)"),
    "messages_in": ("reports_messagehour", "hour", "sum(inbound)"),
    "messages_out": ("reports_messagehour", "hour", "sum(outbound)"),
}
# Metrics that are counts: a bucket without rows is 0; the others have no value there.
_COUNTS = {"conversations_opened", "conversations_closed", "messages_in", "messages_out"}


def report_trends(actor: Actor, period: Period, *, metric: str, interval: str) -> dict:
    scope = report_scope(actor)
    if metric not in METRICS:
        raise ValidationFailed(details=[{"field": "metric", "message": _("Use one of: %(values)s.")
                                         % {"values": ", ".join(METRICS)}}])
    if interval not in ("hour", "day"):
        raise ValidationFailed(details=[{"field": "interval", "message": _("Use hour or day.")}])
    table, column, value = METRICS[metric]
    sql = f"""
        SELECT date_trunc(%(interval)s, {column} AT TIME ZONE %(tz)s) AS bucket, {value}
        FROM {table}
        WHERE {column} >= %(start)s AND {column} < %(end)s AND {scope.sql("team_id")}
        GROUP BY 1
    """
    found = {bucket: value for bucket, value in
             _rows(sql, _params(period, scope, interval=interval, tz=period.tz))}
    points = []
    for start in buckets(period, interval):
        value = found.get(start.replace(tzinfo=None))
        if value is None and metric in _COUNTS:
            value = 0
        points.append({"at": start.isoformat(), "value": _number(value)})
    return {"period": period.as_dict(), "metric": metric, "interval": interval, "points": points}


def _number(value):
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)


def trend_metrics() -> tuple[str, ...]:
    return tuple(METRICS)


def report_flows(actor: Actor, period: Period) -> dict:
    """Bot flows' sessions started in the period and how they ended so far; supervisors see the
    sessions on inboxes their teams answer (as for campaigns)."""
    scope = report_scope(actor)
    items = flows_report(actor=actor, date_from=period.start, date_to=period.end,
                         inbox_team_ids=scope.team_ids)
    for item in items:
        item["completion_rate"] = _rate(item["completed"], item["started"])
        item["handoff_rate"] = _rate(item["handed_off"], item["started"])
    return {"period": period.as_dict(), "items": items, "next_cursor": None}
