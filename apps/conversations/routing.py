"""Auto-assignment: a team's waiting conversations go to its available members with room (SPEC §7).

`route_team` serves one team's queue, oldest first, one assignment per transaction, as long as a
conversation waits and a member has room; any number of workers may run it at once, for one team or
many. Its locks, all taken with `SKIP LOCKED` (routing never waits on a lock, so never deadlocks):

1. the chosen member's `TeamMember` row and their `User` row, together, `SKIP LOCKED`: two workers
   never pick the same member (of a team, or of two teams through the user), so round robin hands
   out turns in order across workers (its state is `TeamMember.last_assigned_at`, in PostgreSQL);
   the row is re-read under the lock and passed over if another worker used that member meanwhile.
   The open load (open and pending conversations, across all teams) is then recounted: every
   routing assignment to that user holds the user's row until commit, so no assignment ever takes
   anyone over capacity, whatever the number of workers and teams;
2. the oldest waiting conversation, `SKIP LOCKED`: it is locked only once a member with room is
   held, so a row another worker holds is already on its way to an agent and skipping it keeps the
   arrival order for the next free agent.

A conversation an agent gave back (unassigned, or transferred to a team) never goes straight back
to them: routing passes them over for it, and it waits for another member if nobody else has room
(anyone, the one who gave it back included, can still take it by hand).

Triggers arrive through `route_team_after_commit` / `route_teams_of_user_after_commit` (one pending
Huey task per team at a time, coalesced in Redis) and the minute sweep (`routing_tasks`).
"""

import logging
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum

from django.db import connection, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from apps.accounts.models import User
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_assign
from apps.teams.models import Team, TeamMember
from conversa.events import delivered_together
from conversa.redis import get_redis, redis_key

logger = logging.getLogger("conversa.routing")

ROUTED = (Team.Routing.ROUND_ROBIN, Team.Routing.LEAST_BUSY)
# What counts against a member's capacity.
LOAD_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING)
# One task assigns at most this many, then hands over to a fresh task (other teams get a turn).
ROUTE_LIMIT = 200
# Assignments whose events go out together (see route_team).
EVENTS_TOGETHER = 10
# How long a "route team T is pending" mark may outlive a task that never ran (worker died).
PENDING_SECONDS = 30


class Outcome(Enum):
    ASSIGNED = "assigned"
    QUEUE_EMPTY = "queue_empty"  # nothing waits that another worker is not already assigning
    NO_ROOM = "no_room"  # nobody available with room (or all of them held by other workers)
    STALE = "stale"  # another worker assigned meanwhile: choose again
    MANUAL = "manual"


@dataclass(frozen=True)
class Candidate:
    member_id: int
    user_id: int
    capacity: int
    priority: int
    last_assigned_at: object
    load: int


def waiting(team_id: int):
    """The team's queue in arrival order (what the partial index `conv_team_queue_idx` holds)."""
    return Conversation.objects.filter(
        team_id=team_id, status=Conversation.Status.QUEUED, assignee__isnull=True
    ).order_by("queued_at", "id")


def open_load(user_id: int) -> int:
    return Conversation.objects.filter(assignee_id=user_id, status__in=LOAD_STATUSES).count()


def candidates(team_id: int, routing: str, *, limit: int) -> list[Candidate]:
    """The best `limit` available, active members with room, in the team's order (none once the
    team no longer routes that way)."""
    load = Coalesce(
        Subquery(
            Conversation.objects.filter(assignee_id=OuterRef("user_id"), status__in=LOAD_STATUSES)
            .order_by()
            .values("assignee_id")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )
    longest_waiting = F("last_assigned_at").asc(nulls_first=True)
    if routing == Team.Routing.LEAST_BUSY:
        order = ["load", "-priority", longest_waiting, "pk"]
    else:
        order = ["-priority", longest_waiting, "pk"]
    rows = (
        TeamMember.objects.filter(
            team_id=team_id, team__routing=routing, user__is_active=True, user__status=User.Status.AVAILABLE
        )
        .annotate(load=load)
        .filter(load__lt=F("capacity"))
        .order_by(*order)
        .values_list("pk", "user_id", "capacity", "priority", "last_assigned_at", "load")[:limit]
    )
    return [Candidate(*row) for row in rows]


class Line:
    """The members next in line, read once for a few assignments of one `route_team`.

    Only a guess: each one is re-read under its lock before use. Under round robin a member who
    was just given a conversation goes to the back of their tier, exactly where the database's
    order would put them (or out of the line when their tier runs on beyond what was read), so the
    line stays right without reading it again; it is read again once used up, and after SIZE
    assignments anyway (for members who became available meanwhile). Least busy reads it again
    after each assignment. Reading the whole team each time would cost more than the assignment
    itself with hundreds of members.
    """

    SIZE = 32

    def __init__(self, team_id: int, routing: str):
        self.team_id, self.routing = team_id, routing
        self.members: deque[Candidate] = deque()
        self.read_full = False
        self.given_since_read = 0

    def __iter__(self):
        """The members to try for one assignment: what is left of the line, then (once) a fresh one."""
        fresh = False
        while True:
            if not self.members:
                if fresh:
                    return
                rows = candidates(self.team_id, self.routing, limit=self.SIZE)
                self.members, self.read_full, fresh = deque(rows), len(rows) == self.SIZE, True
                self.given_since_read = 0
                if not rows:
                    return
            yield self.members.popleft()

    def given(self, member: Candidate, at) -> None:
        """`member` (as read under its lock) was given a conversation at `at`."""
        self.given_since_read += 1
        if self.routing == Team.Routing.LEAST_BUSY or self.given_since_read >= self.SIZE:
            self.members.clear()
            return
        if member.load + 1 >= member.capacity:
            return
        tier_end = next(
            (i for i, m in enumerate(self.members) if m.priority < member.priority), len(self.members)
        )
        if tier_end < len(self.members) or not self.read_full:
            self.members.insert(tier_end, replace(member, last_assigned_at=at, load=member.load + 1))


def team_work(team_id: int) -> tuple[str | None, bool]:
    """The team's strategy when it routes automatically (else None), and whether anything waits."""
    found = (
        Team.objects.filter(pk=team_id)
        .annotate(has_work=Exists(waiting(team_id)))
        .values_list("routing", "has_work")
        .first()
    )
    if found is None or found[0] not in ROUTED:
        return None, False
    return found


def assign_next(*, team_id: int, line: Line) -> Outcome:
    """Give the team's oldest waiting conversation to the first member in line with room, in one
    transaction (the locks and their order: the module's docstring)."""
    routing = line.routing
    with transaction.atomic():
        for candidate in line:
            member = (
                # NO KEY: rows that point at the user (messages, timeline) are not held up meanwhile.
                TeamMember.objects.select_for_update(skip_locked=True, of=("self", "user"), no_key=True)
                .select_related("user")
                .filter(pk=candidate.member_id, user__is_active=True, user__status=User.Status.AVAILABLE)
                .first()
            )
            if member is None:
                continue  # another worker is giving them a conversation (or they just left)
            if (member.capacity, member.priority, member.last_assigned_at) != (
                candidate.capacity, candidate.priority, candidate.last_assigned_at
            ):
                # Given one (or changed) since we looked. Under round robin that sends them to the
                # back of their tier, so the next in line is still the right one.
                if routing == Team.Routing.LEAST_BUSY:
                    line.members.clear()
                    return Outcome.STALE
                continue
            # Recounted under the lock: every routing assignment to this user holds it until commit.
            load = open_load(member.user_id)
            if load >= member.capacity:
                continue  # filled meanwhile (another team's routing, or a person's assignment)
            if load != candidate.load and routing == Team.Routing.LEAST_BUSY:
                line.members.clear()
                return Outcome.STALE
            oldest = (
                waiting(team_id).exclude(handed_back_by_id=member.user_id)
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True).first()
            )
            if oldest is None:
                if waiting(team_id).filter(handed_back_by_id=member.user_id).exists():
                    continue  # only what they gave back waits: it goes to someone else
                return Outcome.QUEUE_EMPTY
            # The write path re-reads the (locked) row itself.
            conversation_assign(
                conversation=Conversation(pk=oldest), assignee=member.user, actor=None, by="routing"
            )
            now = timezone.now()
            TeamMember.objects.filter(pk=member.pk).update(last_assigned_at=now)
            line.given(replace(candidate, load=load), now)
            return Outcome.ASSIGNED
    # Everyone in a full line was passed over: more members may wait behind them.
    return Outcome.STALE if line.read_full else Outcome.NO_ROOM


def route_team(*, team_id: int, limit: int = ROUTE_LIMIT) -> tuple[int, Outcome]:
    """Assign the team's waiting conversations while someone has room; returns how many were
    assigned and why it stopped (`ASSIGNED` when it stopped at `limit` with work left)."""
    routing, has_work = team_work(team_id)
    if routing is None:
        return 0, Outcome.MANUAL
    if not has_work:
        return 0, Outcome.QUEUE_EMPTY  # the common case of an agent becoming available: no lock taken
    line = Line(team_id, routing)
    assigned = stale = 0
    while assigned < limit and stale < limit:
        # The events of up to EVENTS_TOGETHER assignments (each: status changed, assigned) reach
        # the subscribers as one batch, their frames built and pushed together: the queue's next
        # conversations are not kept waiting while each assignment's frames go out.
        with delivered_together():
            for _ in range(EVENTS_TOGETHER):
                outcome = assign_next(team_id=team_id, line=line)
                if outcome is Outcome.ASSIGNED:
                    assigned += 1
                    if not waiting(team_id).exists():
                        # Cheaper than locking the next member to find out; anything queued from
                        # now on triggers a run of its own.
                        return assigned, Outcome.QUEUE_EMPTY
                elif outcome is Outcome.STALE:
                    stale += 1  # each one means another worker assigned: it carries on if we give up
                else:
                    return assigned, outcome
                if assigned >= limit or stale >= limit:
                    break
    return assigned, Outcome.ASSIGNED


def routed_teams_of_user(user_id: int) -> list[int]:
    return list(
        TeamMember.objects.filter(user_id=user_id, team__routing__in=ROUTED).values_list("team_id", flat=True)
    )


def teams_with_waiting_work() -> list[int]:
    """Routed teams whose queue is not empty (what the minute sweep serves)."""
    return list(
        Team.objects.filter(routing__in=ROUTED)
        .filter(pk__in=Conversation.objects.filter(status=Conversation.Status.QUEUED, assignee__isnull=True)
                .values("team_id"))
        .values_list("pk", flat=True)
    )


# --- triggers ------------------------------------------------------------------------------------

def pending_key(schema_name: str, team_id: int) -> str:
    return redis_key("routing-pending", schema_name, team_id)


def queue_route(schema_name: str, team_id: int) -> None:
    """Queue `team_route` unless one is already queued and not yet started for this team.

    The mark is dropped by the task as it starts, before it reads the queue: work committed before
    that is seen by it, work committed after finds no mark and queues a task of its own. So a burst
    costs one task, and no trigger is lost. Without Redis, the task is queued anyway (or not at all,
    if Huey's Redis is down too: the minute sweep is the backstop).
    """
    from apps.conversations.routing_tasks import team_route

    try:
        fresh = get_redis().set(pending_key(schema_name, team_id), "1", nx=True, ex=PENDING_SECONDS)
    except RedisError:
        logger.warning("routing: Redis unavailable to coalesce; queueing team %s", team_id, exc_info=True)
        fresh = True
    if fresh:
        try:
            team_route(schema_name, team_id)
        except RedisError:
            logger.warning("routing: could not queue team %s; the minute sweep will", team_id, exc_info=True)


def forget_pending(schema_name: str, team_id: int) -> None:
    try:
        get_redis().delete(pending_key(schema_name, team_id))
    except RedisError:
        logger.warning("routing: could not drop the pending mark of team %s", team_id, exc_info=True)


def route_team_after_commit(team_id: int) -> None:
    """Route the team once the current transaction commits (a member added, capacity grown…)."""
    schema = connection.schema_name
    transaction.on_commit(lambda: queue_route(schema, team_id))


def route_teams_of_user_after_commit(user_id: int) -> None:
    """Route every automatically routed team of the user once the current transaction commits
    (they became available, or freed capacity)."""
    schema = connection.schema_name

    def queue():
        with schema_context(schema):
            teams = routed_teams_of_user(user_id)
        for team_id in teams:
            queue_route(schema, team_id)

    transaction.on_commit(queue)
