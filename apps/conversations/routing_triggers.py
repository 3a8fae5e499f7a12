"""When auto-assignment runs: work joins a routed team's queue, or an agent gains room to take it.

Work: a new conversation in a routed team (`conversation.created`), one reopened into the queue
(`conversation.status_changed` to `queued`), unassigned, or transferred to a team
(`conversation.queued`). Room: an agent becomes available (`agent_status.updated`), a
conversation they held closes, is unassigned or goes to someone else, or the teams app says a team
may take more work (`team.members_changed`: a member joined or got more capacity, the team moved
to automatic routing). Each batch of events reads
its conversations in one query and queues one routing task per team (`routing.queue_route`).
"""

from collections import defaultdict

from django_tenants.utils import schema_context

from apps.accounts.events import AGENT_STATUS_UPDATED
from apps.accounts.models import User
from apps.conversations import events as conversation_events
from apps.conversations.models import Conversation
from apps.conversations.routing import LOAD_STATUSES, ROUTED, queue_route
from apps.teams.events import TEAM_MEMBERS_CHANGED
from apps.teams.models import TeamMember
from conversa.events import Event, subscribe_batch

WORK = (
    conversation_events.CONVERSATION_CREATED,
    conversation_events.CONVERSATION_STATUS_CHANGED,
    conversation_events.CONVERSATION_ASSIGNED,
    conversation_events.CONVERSATION_QUEUED,
)


@subscribe_batch(awaited=True)
def route_when_work_or_room_appears(batch: list[Event]) -> None:
    by_schema = defaultdict(list)
    for event in batch:
        if event.name in WORK or event.name in (AGENT_STATUS_UPDATED, TEAM_MEMBERS_CHANGED):
            by_schema[event.schema_name].append(event)
    for schema_name, found in by_schema.items():
        with schema_context(schema_name):
            teams = teams_to_route(found)
        for team_id in sorted(teams):
            queue_route(schema_name, team_id)


def may_matter(event: Event) -> bool:
    """Whether the event may have put work in a queue or given someone room; routing's own
    assignments (queued → open, nobody before) do not, and cost no query here."""
    if event.name == conversation_events.CONVERSATION_STATUS_CHANGED:
        data = event.data
        return data.get("to") == Conversation.Status.QUEUED or (
            data.get("from") in LOAD_STATUSES and data.get("to") not in LOAD_STATUSES
        )
    if event.name == conversation_events.CONVERSATION_ASSIGNED:
        return bool(event.data.get("previous_assignee_id"))
    return event.name in WORK


def teams_to_route(found: list[Event]) -> set[int]:
    ids = {event.data.get("conversation_id") for event in found if may_matter(event)} - {None}
    rows = {
        row[0]: row[1:]
        for row in Conversation.objects.filter(pk__in=ids).values_list(
            "pk", "status", "assignee_id", "team_id", "team__routing"
        )
    } if ids else {}
    teams, users = set(), set()
    for event in found:
        if event.name == AGENT_STATUS_UPDATED:
            users.add(event.data["user_id"])
            continue
        if event.name == TEAM_MEMBERS_CHANGED:
            if event.data.get("team_id"):
                teams.add(event.data["team_id"])  # a manual team's run stops at once
            continue
        row = rows.get(event.data.get("conversation_id"))
        if row is None:  # nothing to do for it (or deleted since)
            continue
        status, assignee_id, team_id, team_routing = row
        if status == Conversation.Status.QUEUED and assignee_id is None and team_routing in ROUTED:
            teams.add(team_id)
        if event.name == conversation_events.CONVERSATION_STATUS_CHANGED:
            moved = (event.data.get("from"), event.data.get("to"))
            if moved[0] in LOAD_STATUSES and moved[1] not in LOAD_STATUSES and assignee_id:
                users.add(assignee_id)  # closed (or back in the queue): its holder has room again
        elif event.name == conversation_events.CONVERSATION_ASSIGNED:
            previous = event.data.get("previous_assignee_id")
            if previous and previous != assignee_id:
                users.add(previous)
    if users:
        teams.update(
            TeamMember.objects.filter(
                user_id__in=users, user__is_active=True, user__status=User.Status.AVAILABLE,
                team__routing__in=ROUTED,
            ).values_list("team_id", flat=True)
        )
    return teams
