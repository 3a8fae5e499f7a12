"""Bot flows in the agents' UI (SPEC §10): the list, the structured editor with its diagram, the
version history and a chat-like tester built on the simulator. Supervisors and admins only (others
get a 403 page saying why); a company whose plan lacks `flows` gets a page saying so.

Writes go through `apps.flows.services` with the signed-in user as actor, reads through
`apps.flows.selectors`; the editor's cards are `apps.web.flow_editor`'s."""

import json
from functools import wraps

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.flows import services
from apps.flows.diagram import layout
from apps.flows.graph import NODE_ID, validate_graph
from apps.flows.models import Flow
from apps.flows.selectors import flow_get_for, flow_simulate, flow_stats, flow_versions, flows_visible_to
from apps.inboxes.models import Inbox
from apps.teams.models import Team
from apps.web.auth import action_required
from apps.web.flow_editor import STARTER_GRAPH, choices, graph_from_post, new_node, node_cards
from conversa.errors import DomainError, ValidationFailed

SECTION = {"section": "flows"}


def flows_page(view):
    @action_required("flows.manage", forbidden_page=("web/flows/forbidden.html", SECTION))
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.tenant.plan.has_feature("flows"):
            return render(request, "web/flows/not_in_plan.html", SECTION, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _trigger_from(data) -> dict:
    keywords = [word.strip() for word in (data.get("keywords") or "").split(",") if word.strip()]
    inbox = (data.get("inbox_id") or "").strip()
    return {
        "type": data.get("trigger_type") or "manual",
        "inbox_id": int(inbox) if inbox.isdigit() else None,
        "keywords": keywords,
    }


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, list) else []
    return " ".join(str(d.get("message", "")) for d in details if isinstance(d, dict)) or exc.message


@flows_page
@require_http_methods(["GET", "POST"])
def list_view(request):
    error = ""
    if request.method == "POST":
        try:
            flow = services.flow_create(
                actor=request.user,
                name=request.POST.get("name", ""),
                trigger=_trigger_from(request.POST),
                graph=STARTER_GRAPH,
                request=request,
            )
        except DomainError as exc:
            error = _error_text(exc)
        else:
            messages.success(
                request, _("Flow %(name)s created. Build it, test it, then publish it.") % {"name": flow.name}
            )
            return redirect("web:flow", flow.pk)
    flows = flows_visible_to(request.user).select_related("trigger_inbox").order_by("name", "pk")
    return render(
        request,
        "web/flows/list.html",
        {
            **SECTION,
            "flows": flows,
            "error": error,
            "inboxes": Inbox.objects.filter(is_active=True),
            "triggers": Flow.Trigger.choices,
            "posted": request.POST,
        },
        status=422 if error else 200,
    )


def _editor(request, flow: Flow, *, graph: dict, details: list[dict], unsaved: bool, status: int = 200):
    stats = flow_stats(flow)
    return render(
        request,
        "web/flows/editor.html",
        {
            **SECTION,
            "flow": flow,
            "graph": graph,
            "cards": node_cards(graph, details),
            "graph_problems": [d["message"] for d in details if not d.get("node")],
            "problem_count": len(details),
            "unsaved": unsaved,
            "choices": choices(),
            "node_ids": list((graph.get("nodes") or {}).keys()),
            "teams": Team.objects.order_by("name"),
            "inboxes": Inbox.objects.filter(is_active=True),
            "triggers": Flow.Trigger.choices,
            "diagram": layout(graph, stats["nodes"]),
            "stats": stats,
            "versions": flow_versions(flow)[:20],
            "draft_published": flow.published_version_id and flow.published_version.graph == flow.graph,
            "simulate_url": reverse("web:flow-simulate", args=[flow.pk]),
            "tester_strings": {
                "end": _("The flow ended."),
                "handoff": _("Handed over to people."),
                "attempts": _("Invalid answers used up: left to people."),
                "error": _("The flow stopped."),
                "waiting": _("Waiting for the customer's answer."),
                "failed": _("The flow could not run:"),
            },
        },
        status=status,
    )


@flows_page
@require_http_methods(["GET", "POST"])
def editor_view(request, flow_id: int):
    flow = flow_get_for(request.user, flow_id)
    if request.method == "GET":
        return _editor(request, flow, graph=flow.graph, details=[], unsaved=False)
    graph = graph_from_post(request.POST)
    action = request.POST.get("action", "save")
    if action == "add":
        node_id = (request.POST.get("new_id") or "").strip()
        kind = request.POST.get("new_type") or "message"
        problem = ""
        if not NODE_ID.match(node_id):
            problem = _("Use 1 to 64 letters, digits, “-” or “_” for a node id.")
        elif node_id in graph["nodes"]:
            problem = _("There is a node “%(node)s” already.") % {"node": node_id}
        if problem:
            details = [{"message": problem}]
        else:
            graph["nodes"][node_id] = new_node(kind)
            details = []
        return _editor(
            request, flow, graph=graph, details=details, unsaved=True, status=422 if problem else 200
        )
    if action.startswith("remove:"):
        removed = request.POST.get(f"n-{action.removeprefix('remove:')}-id", "")
        graph["nodes"].pop(removed, None)
        if graph["start"] == removed:
            graph["start"] = next(iter(graph["nodes"]), "")
        return _editor(request, flow, graph=graph, details=[], unsaved=True)
    if action == "check":
        details = validate_graph(graph, team_ids=set(Team.objects.values_list("pk", flat=True)))
        return _editor(request, flow, graph=graph, details=details, unsaved=True)
    minutes = (request.POST.get("timeout_minutes") or "").strip()
    try:
        services.flow_update(
            actor=request.user,
            flow=flow,
            request=request,
            graph=graph,
            name=request.POST.get("name", flow.name),
            trigger=_trigger_from(request.POST),
            is_active=bool(request.POST.get("is_active")),
            # Anything but a whole number is the service's 422 on timeout_minutes.
            timeout_minutes=int(minutes) if minutes.isdigit() else (minutes or flow.timeout_minutes),
        )
    except ValidationFailed as exc:
        details = [d for d in exc.details if isinstance(d, dict)]
        if not any(d.get("node") for d in details):
            details = [{"message": _error_text(exc)}]
        return _editor(request, flow, graph=graph, details=details, unsaved=True, status=422)
    messages.success(request, _("Draft saved."))
    return redirect("web:flow", flow.pk)


@flows_page
@require_POST
def publish_view(request, flow_id: int):
    flow = flow_get_for(request.user, flow_id)
    try:
        version = services.flow_publish(actor=request.user, flow=flow, request=request)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _("Version %(number)s is live. Running sessions finish on the version they started on.")
            % {"number": version.number},
        )
    return redirect("web:flow", flow.pk)


@flows_page
@require_POST
def delete_view(request, flow_id: int):
    flow = flow_get_for(request.user, flow_id)
    services.flow_delete(actor=request.user, flow=flow, request=request)
    messages.success(request, _("Flow %(name)s deleted.") % {"name": flow.name})
    return redirect("web:flows")


@flows_page
@require_POST
def simulate_view(request, flow_id: int):
    """The tester: the saved draft against the answers typed so far (JSON in, JSON out)."""
    flow = flow_get_for(request.user, flow_id)
    try:
        body = json.loads(request.body or b"{}")
        inputs = [str(text) for text in body.get("inputs", [])]
    except (ValueError, AttributeError):
        return JsonResponse({"error": _("Invalid request.")}, status=400)
    try:
        result = flow_simulate(flow, inputs=inputs, contact={"name": request.user.name})
    except DomainError as exc:
        return JsonResponse({"error": _error_text(exc)}, status=exc.status)
    return JsonResponse(result)
