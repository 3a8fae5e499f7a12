"""The live dashboard (SPEC §12): agents by status, each team's queue and its longest wait,
conversations opened and closed today (in the company's time zone), messages in the last hour and
SLA compliance today; read by `GET /api/v1/reports/live` and pushed as `report.live` frames.

Each read is a handful of indexed queries on small tables or rollups (users, the queue index of
conversations, today's facts, the last hour's minute counters), whatever the company's history.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.conversations.models import Conversation
from apps.reports.models import ConversationFact, MessageMinute
from apps.reports.periods import today_in
from apps.reports.scope import Scope, report_scope
from apps.teams.models import Team, TeamMember
from conversa.realtime.fanout import event_message, send_messages
from conversa.realtime.groups import group_name
from conversa.realtime.presence import online_user_ids
from tenants.models import Company

REPORT_LIVE = "report.live"
AGENTS_LISTED = 200


def _zone(company: Company) -> ZoneInfo:
    try:
        return ZoneInfo(company.time_zone or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def live_figures(scope: Scope, *, zone: ZoneInfo, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    users = User.objects.filter(is_active=True)
    teams = Team.objects.order_by("name", "pk")
    queued = Conversation.objects.filter(status=Conversation.Status.QUEUED, assignee__isnull=True)
    facts = ConversationFact.objects.all()
    minutes = MessageMinute.objects.filter(minute__gte=now - dt.timedelta(hours=1))
    if scope.team_ids is not None:
        users = users.filter(pk__in=TeamMember.objects.filter(team_id__in=scope.team_ids).values("user_id"))
        teams = teams.filter(pk__in=scope.team_ids)
        queued = queued.filter(team_id__in=scope.team_ids)
        facts = facts.filter(team_id__in=scope.team_ids)
        minutes = minutes.filter(team_id__in=scope.team_ids)
    by_status = dict.fromkeys(User.Status.values, 0)
    agents = []
    for user in users.order_by("name", "pk").values("id", "name", "email", "status", "status_changed_at"):
        by_status[user["status"]] = by_status.get(user["status"], 0) + 1
        if len(agents) < AGENTS_LISTED:
            agents.append({"id": user["id"], "name": user["name"] or user["email"], "status": user["status"],
                           "since": user["status_changed_at"].isoformat()})
    waiting = {row["team_id"]: row for row in
               queued.order_by().values("team_id").annotate(size=Count("id"), oldest=Min("queued_at"))}
    queues = []
    for team in teams.values("id", "name"):
        row = waiting.get(team["id"]) or {"size": 0, "oldest": None}
        queues.append(_queue(team["id"], team["name"], row, now))
    if scope.whole_company and None in waiting:
        queues.append(_queue(None, _("No team"), waiting[None], now))
    today = today_in(zone)
    counts = facts.filter(Q(opened_at__gte=today.start) | Q(closed_at__gte=today.start)).aggregate(
        opened=Count("pk", filter=Q(opened_at__gte=today.start)),
        closed=Count("pk", filter=Q(closed_at__gte=today.start)),
        sla_met=Count("pk", filter=Q(opened_at__gte=today.start, sla=ConversationFact.Sla.MET)),
        sla_breached=Count("pk", filter=Q(opened_at__gte=today.start, sla=ConversationFact.Sla.BREACHED)),
    )
    decided = counts["sla_met"] + counts["sla_breached"]
    last_hour = {"inbound": 0, "outbound": 0}
    for inbound, outbound in minutes.values_list("inbound", "outbound"):
        last_hour["inbound"] += inbound
        last_hour["outbound"] += outbound
    return {
        "at": now.isoformat(),
        "today": today.first_day.isoformat(),
        "tz": zone.key,
        "agents": {"by_status": by_status, "items": agents},
        "queues": queues,
        "conversations_today": {"opened": counts["opened"], "closed": counts["closed"]},
        "messages_last_hour": last_hour,
        "sla_today": {"met": counts["sla_met"], "breached": counts["sla_breached"],
                      "compliance": round(counts["sla_met"] / decided, 4) if decided else None},
    }


def _queue(team_id, name, row, now) -> dict:
    oldest = row["oldest"]
    return {"team_id": team_id, "name": name, "size": row["size"],
            "longest_wait_seconds": max(0, int((now - oldest).total_seconds())) if oldest else 0}


def report_live(actor: Actor, *, company: Company) -> dict:
    return live_figures(report_scope(actor), zone=_zone(company))


def live_frames(*, schema_name: str, now: dt.datetime | None = None,
                online: set[int] | None = None) -> list[tuple[str, dict]]:
    """(group suffix, data) of every `report.live` frame due now: the whole company's figures to
    `admins`, and to each supervisor (their `user.N` group) their teams' figures, computed once per
    distinct set of teams. Agents get none. With `online` (user ids with a socket open), only
    for those: nothing is computed for dashboards nobody can be looking at."""
    company = Company.objects.get(schema_name=schema_name)
    zone, now = _zone(company), now or timezone.now()
    managers = User.objects.filter(is_active=True, role__in=(User.Role.ADMIN, User.Role.SUPERVISOR))
    if online is not None:
        managers = managers.filter(pk__in=online)
    roles = dict(managers.values_list("pk", "role"))
    frames = []
    if online is None or User.Role.ADMIN in roles.values():
        frames.append(("admins", live_figures(Scope(team_ids=None), zone=zone, now=now)))
    teams_of: dict[int, set[int]] = {pk: set() for pk, role in roles.items() if role == User.Role.SUPERVISOR}
    memberships = TeamMember.objects.filter(user_id__in=list(teams_of)).values_list("user_id", "team_id")
    for user_id, team_id in memberships:
        teams_of[user_id].add(team_id)
    by_teams: dict[frozenset[int], dict] = {}
    for user_id, team_ids in sorted(teams_of.items()):
        key = frozenset(team_ids)
        if key not in by_teams:
            by_teams[key] = live_figures(Scope(team_ids=key), zone=zone, now=now)
        frames.append((f"user.{user_id}", by_teams[key]))
    return frames


def live_push(*, schema_name: str) -> int:
    """Send the `report.live` frames due now to the managers who are online (`live_frames`);
    returns how many were sent."""
    online = online_user_ids(schema_name)
    if not online:
        return 0
    frames = live_frames(schema_name=schema_name, online=online)
    if frames:
        send_messages([(group_name(schema_name, suffix), event_message(REPORT_LIVE, data))
                       for suffix, data in frames])
    return len(frames)
