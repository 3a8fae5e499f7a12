"""`/platform/api/v1/plans`: list, create and edit plans (limits and features)."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from ninja_api.platform.acting import acting
from tenants import services
from tenants.models import Plan

router = Router(tags=["plans"])


class PlanFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    monthly_price: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    max_agents: int | None = Field(None, ge=0)
    max_inboxes: int | None = Field(None, ge=0)
    max_contacts: int | None = Field(None, ge=0)
    max_monthly_outbound_messages: int | None = Field(None, ge=0)
    max_storage_mb: int | None = Field(None, ge=0)
    api_requests_per_minute: int | None = Field(None, ge=1)
    campaigns: bool | None = None
    flows: bool | None = None
    api_access: bool | None = None
    webhooks: bool | None = None
    knowledge_base: bool | None = None
    team_chat: bool | None = None
    reports_export: bool | None = None
    white_label: bool | None = None


class PlanIn(PlanFields):
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    name: str = Field(min_length=1, max_length=100)


class PlanOut(Schema):
    id: int
    code: str
    name: str
    monthly_price: Decimal
    max_agents: int | None
    max_inboxes: int | None
    max_contacts: int | None
    max_monthly_outbound_messages: int | None
    max_storage_mb: int | None
    api_requests_per_minute: int | None
    campaigns: bool
    flows: bool
    api_access: bool
    webhooks: bool
    knowledge_base: bool
    team_chat: bool
    reports_export: bool
    white_label: bool


class PlanList(Schema):
    items: list[PlanOut]
    next_cursor: str | None = None


@router.get("", response=PlanList)
def list_plans(request):
    return {"items": list(Plan.objects.all()), "next_cursor": None}


@router.post("", response={201: PlanOut})
def create_plan(request, payload: PlanIn):
    data = payload.dict(exclude_unset=True)
    plan = services.plan_create(code=data.pop("code"), name=data.pop("name"), **data,
                                **acting(request))
    return Status(201, plan)


@router.get("/{code}", response=PlanOut)
def get_plan(request, code: str):
    return get_object_or_404(Plan, code=code)


@router.patch("/{code}", response=PlanOut)
def update_plan(request, code: str, payload: PlanFields):
    plan = get_object_or_404(Plan, code=code)
    return services.plan_update(plan=plan, **payload.dict(exclude_unset=True), **acting(request))
