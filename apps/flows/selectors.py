"""Reads of flows: lists, one flow, its versions, its statistics, and simulations of its graph.

Everyone reads flows (`flows.read`: agents start them by hand and see what the bot said); another
company's ids simply do not exist in this schema (404).
"""

from django.db.models import Count, QuerySet

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.flows.models import Flow, FlowSession, FlowStep, FlowVersion
from apps.flows.services import check_graph
from apps.flows.simulate import MAX_INPUTS, simulate
from conversa.errors import NotFound, ValidationFailed

ENDED_BADLY = (FlowSession.Status.DROPPED, FlowSession.Status.TIMED_OUT)


def flows_visible_to(actor: Actor) -> QuerySet[Flow]:
    permissions.check(actor, "flows.read")
    return Flow.objects.filter(deleted_at__isnull=True).select_related("published_version")


def flow_get_for(actor: Actor, flow_id: int) -> Flow:
    flow = flows_visible_to(actor).filter(pk=flow_id).first()
    if flow is None:
        raise NotFound()
    return flow


def flow_versions(flow: Flow) -> QuerySet[FlowVersion]:
    return flow.versions.select_related("published_by")


def flow_stats(flow: Flow, *, version: int | None = None) -> dict:
    """Sessions by outcome, and per node: visits, exits (sessions that ended there) and drop-offs
    (those that ended there unfinished: invalid answers used up, timed out, stopped)."""
    sessions = FlowSession.objects.filter(flow=flow)
    steps = FlowStep.objects.filter(version__flow=flow)
    if version is not None:
        sessions = sessions.filter(version__number=version)
        steps = steps.filter(version__number=version)
    by_status = dict(sessions.values_list("status").annotate(n=Count("pk")).order_by())
    nodes: dict[str, dict] = {}

    def node(node_id):
        return nodes.setdefault(node_id, {"visits": 0, "exits": 0, "drop_offs": 0})

    for node_id, visits in steps.values_list("node").annotate(n=Count("pk")).order_by():
        node(node_id)["visits"] = visits
    ended = sessions.exclude(status=FlowSession.Status.RUNNING)
    for node_id, status, count in ended.values_list("node", "status").annotate(n=Count("pk")).order_by():
        node(node_id)["exits"] += count
        if status in ENDED_BADLY:
            node(node_id)["drop_offs"] += count
    return {
        "sessions": sum(by_status.values()),
        "running": by_status.get(FlowSession.Status.RUNNING, 0),
        "completions": by_status.get(FlowSession.Status.COMPLETED, 0),
        "handoffs": by_status.get(FlowSession.Status.HANDED_OFF, 0),
        "drop_offs": sum(by_status.get(status, 0) for status in ENDED_BADLY),
        "nodes": nodes,
    }


def flow_simulate(flow: Flow, *, inputs: list[str], http_responses: dict | None = None,
                  contact: dict | None = None, version: int | None = None) -> dict:
    """Run the draft (or a published version) against scripted answers; nothing is sent or saved."""
    if len(inputs) > MAX_INPUTS or not all(isinstance(text, str) and len(text) <= 4096 for text in inputs):
        raise ValidationFailed(details=[{"field": "inputs", "message": f"At most {MAX_INPUTS} texts."}])
    if version is None:
        graph = flow.graph
        check_graph(graph)
    else:
        found = flow.versions.filter(number=version).first()
        if found is None:
            raise ValidationFailed(details=[{"field": "version", "message": "No such version."}])
        graph = found.graph
    return simulate(graph, inputs=inputs, http_responses=http_responses, contact=contact)
