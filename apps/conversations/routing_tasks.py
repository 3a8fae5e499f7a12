"""Background work of auto-assignment: routing a team when triggered, and the minute sweep."""

import logging

from apps.conversations import routing
from conversa.periodic import every_minute
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.routing")


@tenant_task(urgent=True)
def team_route(schema_name: str, team_id: int) -> int:
    """Serve the team's queue; idempotent, so a duplicate or late run only finds less to do."""
    # Dropped before the queue is read: a trigger committed from here on queues a run of its own.
    routing.forget_pending(schema_name, team_id)
    assigned, outcome = routing.route_team(team_id=team_id)
    if outcome is routing.Outcome.ASSIGNED:
        routing.queue_route(schema_name, team_id)  # stopped at its limit: the rest in a fresh task
    return assigned


@every_minute
@tenant_task()
def routing_sweep(schema_name: str) -> int:
    """The backstop: route every routed team with a waiting conversation (a trigger lost with a
    worker or with Redis, an agent's capacity freed by a path that published nothing)."""
    assigned = 0
    for team_id in routing.teams_with_waiting_work():
        done, _ = routing.route_team(team_id=team_id)
        assigned += done
    if assigned:
        logger.info("routing sweep assigned %d conversations in %s", assigned, schema_name)
    return assigned
