"""`/platform/api/v1/companies`: provision, list, update, change plan, suspend and activate."""

from datetime import datetime
from typing import Literal

from django.db import transaction
from django.db.models import Q
from ninja import Query, Router, Schema, Status
from pydantic import EmailStr, Field

from ninja_api.pagination import PageParams, page_of
from ninja_api.platform.acting import acting
from tenants import lifecycle, services
from tenants.models import Company
from tenants.selectors import company_usage
from tenants.services import tenant_host

router = Router(tags=["companies"])

Language = Literal["en", "es", "pt-br"]


class UsageOut(Schema):
    agents: int
    outbound_messages_this_month: int
    storage_bytes_this_month: int


class CompanyOut(Schema):
    id: int
    name: str
    slug: str
    schema_name: str
    host: str
    plan: str
    status: str
    status_reason: str
    owner_email: str
    default_language: str
    time_zone: str
    brand_name: str
    primary_color: str
    support_email: str
    trial_ends_at: datetime | None
    trial_warning_sent_at: datetime | None
    cancel_requested_at: datetime | None
    grace_ends_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_plan(company):
        return company.plan.code

    @staticmethod
    def resolve_host(company):
        return tenant_host(company.slug)


class CompanyDetailOut(CompanyOut):
    usage: UsageOut

    @staticmethod
    def resolve_usage(company):
        return company_usage(company)


class CompanyPage(Schema):
    items: list[CompanyOut]
    next_cursor: str | None


class CompanyIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=2, max_length=40)
    plan: str = "free"
    admin_email: EmailStr
    admin_password: str = Field(min_length=8, max_length=128)
    admin_name: str = ""
    default_language: Language = "en"
    time_zone: str = "UTC"


class CompanyPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    plan: str | None = None
    owner_email: EmailStr | None = None
    default_language: Language | None = None
    time_zone: str | None = None
    brand_name: str | None = Field(None, max_length=100)
    primary_color: str | None = None
    support_email: EmailStr | None = None
    trial_ends_at: datetime | None = None


class ReasonIn(Schema):
    reason: str = Field("", max_length=500)


@router.get("", response=CompanyPage)
def list_companies(request, page: Query[PageParams], status: str | None = None,
                   plan: str | None = None, q: str | None = None):
    companies = Company.objects.select_related("plan").exclude(schema_name="public")
    if status:
        companies = companies.filter(status=status)
    if plan:
        companies = companies.filter(plan__code=plan)
    if q:
        companies = companies.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    return page_of(companies, page, ordering=("-id",))


@router.post("", response={201: CompanyDetailOut})
def create_company(request, payload: CompanyIn):
    data = payload.dict()
    company, _ = services.company_create(plan_code=data.pop("plan"), **data, **acting(request))
    return Status(201, company)


@router.get("/{int:company_id}", response=CompanyDetailOut)
def get_company(request, company_id: int):
    return services.company_get(company_id)


@router.patch("/{int:company_id}", response=CompanyDetailOut)
def update_company(request, company_id: int, payload: CompanyPatch):
    company = services.company_get(company_id)
    fields = payload.dict(exclude_unset=True)
    plan_code = fields.pop("plan", None)
    with transaction.atomic():
        # One request, two actions: both land or neither, each with its own audit entry.
        if plan_code:
            company = services.company_change_plan(
                company=company, plan_code=plan_code, **acting(request),
            )
        if fields:
            company = services.company_update(company=company, **fields, **acting(request))
    return services.company_get(company.pk)


@router.post("/{int:company_id}/suspend", response=CompanyDetailOut)
def suspend_company(request, company_id: int, payload: ReasonIn):
    return services.company_suspend(company=services.company_get(company_id),
                                    reason=payload.reason, **acting(request))


@router.post("/{int:company_id}/activate", response=CompanyDetailOut)
def activate_company(request, company_id: int, payload: ReasonIn):
    return services.company_activate(company=services.company_get(company_id),
                                     reason=payload.reason, **acting(request))


@router.post("/{int:company_id}/cancel", response=CompanyDetailOut)
def cancel_company(request, company_id: int):
    """Cancel after the grace period (COMPANY_CANCEL_GRACE_DAYS); the company works until then."""
    return lifecycle.company_cancel(company=services.company_get(company_id), **acting(request))


@router.post("/{int:company_id}/cancel/withdraw", response=CompanyDetailOut)
def withdraw_cancellation(request, company_id: int):
    return lifecycle.company_cancel_withdraw(company=services.company_get(company_id), **acting(request))
