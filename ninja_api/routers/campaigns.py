"""`/api/v1/campaigns`: bulk and scheduled broadcasts, their recipients, preview and report (SPEC §9,
§15.1). Managers only (API keys: `campaigns:read` / `campaigns:write`); the plan middleware refuses
every path here without the plan's `campaigns` feature."""

import datetime as dt
from typing import Any

from django.http import StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.campaigns import services
from apps.campaigns.report_csv import campaign_report_csv
from apps.campaigns.selectors import (
    audience_count,
    campaign_get_for,
    campaign_preview,
    campaign_recipients,
    campaign_report,
    campaign_stats,
    campaign_stats_many,
    campaigns_visible_to,
)
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["campaigns"])


class Audience(Schema):
    list_ids: list[int] = Field(default_factory=list)
    segment_id: int | None = None
    tags: list[str] = Field(default_factory=list)


class TemplateIn(Schema):
    name: str
    language: str = ""
    variables: list[str] = Field(default_factory=list)


class MessageIn(Schema):
    text: str | None = None
    template: TemplateIn | None = None


class SendWindow(Schema):
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    start: str = "00:00"
    end: str = "23:59"


class Stats(Schema):
    total: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    skipped: int


class CampaignOut(Schema):
    id: int
    name: str
    inbox_id: int
    status: str
    audience: dict[str, Any]
    message: dict[str, Any]
    media_id: int | None
    scheduled_at: dt.datetime | None
    timezone: str
    send_window: dict[str, Any]
    rate_per_second: int | None
    effective_rate_per_second: int
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    paused_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    failed_at: dt.datetime | None
    failure_reason: str
    pause_reason: str
    stats: Stats

    @staticmethod
    def resolve_message(campaign):
        return {"text": campaign.text or None, "template": campaign.template}

    @staticmethod
    def resolve_effective_rate_per_second(campaign):
        return campaign.effective_rate

    @staticmethod
    def resolve_stats(campaign):
        # A list page reads them for all its campaigns at once (`list_campaigns`).
        stats = getattr(campaign, "prefetched_stats", None)
        return stats if stats is not None else campaign_stats(campaign.pk)


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None


class CampaignIn(Schema):
    name: str
    inbox_id: int
    audience: Audience
    message: MessageIn
    media_id: int | None = None
    scheduled_at: dt.datetime | None = None
    timezone: str | None = None
    send_window: SendWindow | None = None
    rate_per_second: int | None = None


class CampaignPatch(Schema):
    name: str = None
    inbox_id: int = None
    audience: Audience = None
    message: MessageIn = None
    media_id: int | None = None
    scheduled_at: dt.datetime | None = None
    timezone: str = None
    send_window: SendWindow | None = None
    rate_per_second: int | None = None


class ScheduleIn(Schema):
    scheduled_at: dt.datetime | None = None
    timezone: str | None = None


class ListParams(PageParams):
    status: str | None = None


class RecipientParams(PageParams):
    status: str | None = None


class RecipientOut(Schema):
    id: int
    contact_id: int
    contact_name: str
    phone: str
    status: str
    reason: str
    error_message: str
    provider_message_id: str
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    read_at: dt.datetime | None
    failed_at: dt.datetime | None
    conversation_id: int | None

    @staticmethod
    def resolve_contact_name(recipient):
        return recipient.contact.name

    @staticmethod
    def resolve_phone(recipient):
        return recipient.contact.phone


class RecipientPage(Schema):
    items: list[RecipientOut]
    next_cursor: str | None


class AudienceIn(Schema):
    audience: Audience


class AudienceCount(Schema):
    total: int
    skipped: int


class PreviewOut(Schema):
    text: str


def _fields(payload: Schema, *, exclude_unset: bool) -> dict:
    fields = payload.dict(exclude_unset=exclude_unset)
    for key in ("audience", "send_window"):
        if key in fields and fields[key] is not None:
            fields[key] = dict(fields[key])
    if fields.get("message") is not None:
        message = fields["message"]
        fields["message"] = {"text": message.get("text"), "template": message.get("template")}
    return fields


@router.get("", response=CampaignPage)
def list_campaigns(request, params: Query[ListParams]):
    campaigns = campaigns_visible_to(request.auth)
    if params.status:
        campaigns = campaigns.filter(status=params.status)
    page = page_of(campaigns, params)
    stats = campaign_stats_many([campaign.pk for campaign in page["items"]])
    for campaign in page["items"]:
        campaign.prefetched_stats = stats[campaign.pk]
    return page


@router.post("", response={201: CampaignOut})
def create_campaign(request, payload: CampaignIn):
    campaign = services.campaign_create(actor=request.auth, **_fields(payload, exclude_unset=False))
    return Status(201, campaign_get_for(request.auth, campaign.pk))


@router.post("/audience-count", response=AudienceCount)
def count_audience(request, payload: AudienceIn):
    return audience_count(request.auth, dict(payload.audience))


@router.get("/{int:campaign_id}", response=CampaignOut)
def get_campaign(request, campaign_id: int):
    return campaign_get_for(request.auth, campaign_id)


@router.patch("/{int:campaign_id}", response=CampaignOut)
def update_campaign(request, campaign_id: int, payload: CampaignPatch):
    campaign = campaign_get_for(request.auth, campaign_id)
    services.campaign_update(actor=request.auth, campaign=campaign, **_fields(payload, exclude_unset=True))
    return campaign_get_for(request.auth, campaign_id)


@router.delete("/{int:campaign_id}", response={204: None})
def delete_campaign(request, campaign_id: int):
    services.campaign_delete(actor=request.auth, campaign=campaign_get_for(request.auth, campaign_id))
    return Status(204, None)


@router.post("/{int:campaign_id}/schedule", response=CampaignOut)
def schedule_campaign(request, campaign_id: int, payload: ScheduleIn | None = None):
    campaign = campaign_get_for(request.auth, campaign_id)
    given = payload.dict(exclude_unset=True) if payload else {}
    services.campaign_schedule(
        actor=request.auth, campaign=campaign,
        scheduled_at=given.get("scheduled_at", services.UNSET), timezone_name=given.get("timezone"),
    )
    return campaign_get_for(request.auth, campaign_id)


def _action(name: str):
    service = getattr(services, f"campaign_{name}")

    def act(request, campaign_id: int):
        service(actor=request.auth, campaign=campaign_get_for(request.auth, campaign_id))
        return campaign_get_for(request.auth, campaign_id)

    act.__name__ = f"{name}_campaign"
    return act


for _name in ("start", "pause", "resume", "cancel"):
    router.post(f"/{{int:campaign_id}}/{_name}", response=CampaignOut)(_action(_name))


@router.post("/{int:campaign_id}/duplicate", response={201: CampaignOut})
def duplicate_campaign(request, campaign_id: int):
    campaign = campaign_get_for(request.auth, campaign_id)
    copy = services.campaign_duplicate(actor=request.auth, campaign=campaign)
    return Status(201, campaign_get_for(request.auth, copy.pk))


@router.get("/{int:campaign_id}/recipients", response=RecipientPage)
def list_recipients(request, campaign_id: int, params: Query[RecipientParams]):
    campaign = campaign_get_for(request.auth, campaign_id)
    recipients = campaign_recipients(request.auth, campaign, status=params.status)
    return page_of(recipients, params, ordering=("id",))


@router.get("/{int:campaign_id}/preview", response=PreviewOut)
def preview_campaign(request, campaign_id: int, contact_id: int):
    return campaign_preview(request.auth, campaign_get_for(request.auth, campaign_id), contact_id=contact_id)


@router.get("/{int:campaign_id}/report")
def report(request, campaign_id: int) -> dict:
    return campaign_report(request.auth, campaign_get_for(request.auth, campaign_id))


@router.get("/{int:campaign_id}/report.csv")
def report_csv(request, campaign_id: int):
    """Summary lines (counts, rates, timing, failures by error code), a blank line, then one row per
    recipient (apps.campaigns.report_csv), streamed."""
    campaign = campaign_get_for(request.auth, campaign_id)
    services.campaign_report_export(actor=request.auth, campaign=campaign, request=request)
    response = StreamingHttpResponse(campaign_report_csv(request.auth, campaign),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.csv"'
    return response
