"""`/api/v1/flows`: bot flows, their versions, simulation, statistics and manual start (SPEC §10,
§15.1). Everyone reads; supervisors and admins write and publish; the plan middleware refuses every
path here without the plan's `flows` feature."""

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.flows import services
from apps.flows.selectors import flow_get_for, flow_simulate, flow_stats, flow_versions, flows_visible_to
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["flows"])


class TriggerIn(Schema):
    type: str
    inbox_id: int | None = None
    keywords: list[str] = Field(default_factory=list)


class FlowOut(Schema):
    id: int
    name: str
    description: str
    trigger: dict[str, Any]
    graph: dict[str, Any]
    timeout_minutes: int
    is_active: bool
    published_version: int | None
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_published_version(flow):
        return flow.published_version.number if flow.published_version_id else None


class FlowPage(Schema):
    items: list[FlowOut]
    next_cursor: str | None


class FlowIn(Schema):
    name: str
    trigger: TriggerIn
    graph: dict[str, Any]
    description: str = ""
    timeout_minutes: int = 60
    is_active: bool = True


class FlowPatch(Schema):
    name: str = None
    trigger: TriggerIn = None
    graph: dict[str, Any] = None
    description: str = None
    timeout_minutes: int = None
    is_active: bool = None


class VersionOut(Schema):
    id: int
    number: int
    graph: dict[str, Any]
    published_at: dt.datetime
    published_by_id: int | None


class VersionPage(Schema):
    items: list[VersionOut]
    next_cursor: str | None


class SimulateIn(Schema):
    inputs: list[str] = Field(default_factory=list)
    http_responses: dict[str, dict[str, Any]] = Field(default_factory=dict)
    contact: dict[str, Any] = Field(default_factory=dict)
    version: int | None = None


class SimulateOut(Schema):
    transcript: list[dict[str, str]]
    variables: dict[str, Any]
    ended_by: str
    path: list[str]
    handoff_team_id: int | None
    contact: dict[str, Any]


class NodeStats(Schema):
    visits: int
    exits: int
    drop_offs: int


class StatsOut(Schema):
    sessions: int
    running: int
    completions: int
    handoffs: int
    drop_offs: int
    nodes: dict[str, NodeStats]


class StartIn(Schema):
    conversation_id: int


class SessionOut(Schema):
    id: int
    flow_id: int
    version: int
    conversation_id: int
    status: str
    node: str
    waiting: str
    variables: dict[str, Any]

    @staticmethod
    def resolve_version(session):
        return session.version.number


def _fields(payload: Schema) -> dict:
    fields = payload.dict(exclude_unset=True)
    if fields.get("trigger") is not None:
        fields["trigger"] = dict(fields["trigger"])
    return fields


@router.get("", response=FlowPage)
def list_flows(request, params: Query[PageParams]):
    return page_of(flows_visible_to(request.auth), params)


@router.post("", response={201: FlowOut})
def create_flow(request, payload: FlowIn):
    fields = payload.dict()
    fields["trigger"] = dict(fields["trigger"])
    flow = services.flow_create(actor=request.auth, request=request, **fields)
    return Status(201, flow_get_for(request.auth, flow.pk))


@router.get("/{int:flow_id}", response=FlowOut)
def get_flow(request, flow_id: int):
    return flow_get_for(request.auth, flow_id)


@router.patch("/{int:flow_id}", response=FlowOut)
def update_flow(request, flow_id: int, payload: FlowPatch):
    flow = flow_get_for(request.auth, flow_id)
    services.flow_update(actor=request.auth, flow=flow, request=request, **_fields(payload))
    return flow_get_for(request.auth, flow_id)


@router.delete("/{int:flow_id}", response={204: None})
def delete_flow(request, flow_id: int):
    services.flow_delete(actor=request.auth, flow=flow_get_for(request.auth, flow_id), request=request)
    return Status(204, None)


@router.post("/{int:flow_id}/publish", response={201: VersionOut})
def publish_flow(request, flow_id: int):
    version = services.flow_publish(actor=request.auth, flow=flow_get_for(request.auth, flow_id),
                                    request=request)
    return Status(201, version)


@router.get("/{int:flow_id}/versions", response=VersionPage)
def list_versions(request, flow_id: int, params: Query[PageParams]):
    flow = flow_get_for(request.auth, flow_id)
    return page_of(flow_versions(flow), params, ordering=("-number",))


@router.post("/{int:flow_id}/simulate", response=SimulateOut)
def simulate_flow(request, flow_id: int, payload: SimulateIn):
    flow = flow_get_for(request.auth, flow_id)
    return flow_simulate(flow, inputs=payload.inputs, http_responses=payload.http_responses,
                         contact=payload.contact, version=payload.version)


@router.get("/{int:flow_id}/stats", response=StatsOut)
def get_stats(request, flow_id: int, version: int | None = None):
    return flow_stats(flow_get_for(request.auth, flow_id), version=version)


@router.post("/{int:flow_id}/start", response={201: SessionOut})
def start_flow(request, flow_id: int, payload: StartIn):
    """Start the published flow in a conversation (an agent's manual start)."""
    flow = flow_get_for(request.auth, flow_id)
    session = services.flow_start(actor=request.auth, flow=flow, conversation_id=payload.conversation_id)
    return Status(201, session)
