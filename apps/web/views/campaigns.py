"""Campaigns in the agents' UI (SPEC §9): the list, the builder (create and edit a draft), the live
progress page with its actions, and the report once a campaign is over. Managers only: agents get a
403 page saying why; a company whose plan lacks `campaigns` gets a page saying so.

Every write goes through `apps.campaigns.services` with the signed-in user as actor; the pages read
through `apps.campaigns.selectors`. The progress numbers follow `campaign.progress` frames
(static/web/campaigns.js)."""

import zoneinfo
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.campaigns import services
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.report_csv import campaign_report_csv
from apps.campaigns.selectors import (
    audience_count,
    campaign_get_for,
    campaign_preview,
    campaign_recipients,
    campaign_report,
    campaign_stats,
    campaigns_visible_to,
)
from apps.campaigns.validation import DAYS
from apps.contacts import lists, segments
from apps.contacts.models import Contact
from apps.conversations.selectors import media_get_for
from apps.inboxes.models import Inbox, MessageTemplate
from apps.media.services import media_upload
from apps.web.auth import action_required
from apps.web.forms import ServiceForm
from conversa.errors import DomainError, RateLimited, ValidationFailed

RECIPIENTS_PAGE = 50
CHART_BUCKETS = 120
VARIABLE_BUTTONS = ("contact.first_name", "contact.name", "contact.phone", "contact.email",
                    "contact.company", "contact.city", "contact.country")
DAY_LABELS = {
    "mon": gettext_lazy("Mon"), "tue": gettext_lazy("Tue"), "wed": gettext_lazy("Wed"),
    "thu": gettext_lazy("Thu"), "fri": gettext_lazy("Fri"), "sat": gettext_lazy("Sat"),
    "sun": gettext_lazy("Sun"),
}
# The buttons each status offers (the services refuse anything else with 409 anyway).
ACTIONS = {
    Campaign.Status.DRAFT: ("edit", "schedule", "start", "duplicate", "cancel", "delete"),
    Campaign.Status.SCHEDULED: ("edit", "start", "duplicate", "cancel"),
    Campaign.Status.RUNNING: ("pause", "duplicate", "cancel"),
    Campaign.Status.PAUSED: ("resume", "duplicate", "cancel"),
}
SECTION = {"section": "campaigns"}


def campaigns_page(view):
    """Managers of a company whose plan has campaigns; others learn why (403)."""

    @action_required("campaigns.read", forbidden_page=("web/campaigns/forbidden.html", SECTION))
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.tenant.plan.has_feature("campaigns"):
            return render(request, "web/campaigns/not_in_plan.html", SECTION, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, list) else []
    texts = [str(detail.get("message", "")) for detail in details if isinstance(detail, dict)]
    return " ".join(text for text in texts if text) or exc.message


def _to_detail(request, campaign_id: int) -> HttpResponse:
    url = reverse("web:campaign", args=[campaign_id])
    if request.htmx:
        response = HttpResponse("")
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# --- the builder --------------------------------------------------------------------------------

class CampaignForm(ServiceForm):
    """What a campaign is made of; the services check it all (the form only parses)."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    inbox_id = forms.TypedChoiceField(label=gettext_lazy("Inbox"), coerce=int)
    list_ids = forms.TypedMultipleChoiceField(label=gettext_lazy("Lists"), coerce=int, required=False,
                                              widget=forms.CheckboxSelectMultiple)
    segment_id = forms.TypedChoiceField(label=gettext_lazy("Segment"), coerce=int, required=False,
                                        empty_value=None)
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False, max_length=500,
                           help_text=gettext_lazy("Comma-separated; contacts with any of them."))
    kind = forms.ChoiceField(
        label=gettext_lazy("Message"), widget=forms.RadioSelect, initial="text",
        choices=(("text", gettext_lazy("Text")), ("template", gettext_lazy("Approved template"))),
    )
    text = forms.CharField(label=gettext_lazy("Text"), required=False, max_length=4096,
                           widget=forms.Textarea(attrs={"rows": 5}))
    template = forms.ChoiceField(label=gettext_lazy("Template"), required=False)
    template_variables = forms.CharField(
        label=gettext_lazy("Template variables"), required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One per line, in order: {{1}}, {{2}}… They may hold {{contact.first_name}} etc."),
    )
    media_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"), initial="UTC")
    scheduled_at = forms.CharField(
        label=gettext_lazy("Send at"), required=False, max_length=30,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: you start it by hand. Read in the time zone above."),
    )
    window_days = forms.MultipleChoiceField(
        label=gettext_lazy("Send window: days"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=list(DAY_LABELS.items()),
    )
    window_start = forms.CharField(label=gettext_lazy("From"), required=False, max_length=5,
                                   widget=forms.TimeInput(attrs={"type": "time"}))
    window_end = forms.CharField(label=gettext_lazy("Until"), required=False, max_length=5,
                                 widget=forms.TimeInput(attrs={"type": "time"}))
    rate_per_second = forms.IntegerField(
        label=gettext_lazy("Throttle (messages per second)"), required=False, min_value=1, max_value=1000,
        help_text=gettext_lazy("Empty: as fast as the inbox allows."),
    )

    detail_fields = {
        "audience": "list_ids", "audience.list_ids": "list_ids", "audience.segment_id": "segment_id",
        "audience.tags": "tags", "message": "text", "message.text": "text", "message.template": "template",
        "message.template.name": "template", "message.template.variables": "template_variables",
        "send_window": "window_days", "send_window.days": "window_days", "send_window.start": "window_start",
        "send_window.end": "window_end",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inboxes = list(Inbox.objects.filter(is_active=True).order_by("name", "id"))
        self.fields["inbox_id"].choices = [(inbox.pk, inbox.name) for inbox in self.inboxes]
        self.fields["segment_id"].choices = [("", _("No segment"))]
        templates = MessageTemplate.objects.filter(
            status=MessageTemplate.Status.APPROVED, inbox__is_active=True,
        ).select_related("inbox").order_by("inbox__name", "name", "language")
        self.fields["template"].choices = [("", _("Choose a template"))] + [
            (f"{item.name}|{item.language}", f"{item.name} ({item.language}) · {item.inbox.name}")
            for item in templates
        ]
        self.template_bodies = {f"{item.name}|{item.language}": item.body for item in templates}
        self.fields["timezone"].choices = [(name, name) for name in sorted(zoneinfo.available_timezones())]

    def fill_audience_choices(self, actor) -> None:
        self.fields["list_ids"].choices = [
            (item.pk, item.name) for item in lists.contact_lists_visible_to(actor).order_by("name", "id")
        ]
        self.fields["segment_id"].choices += [
            (item.pk, item.name) for item in segments.segments_visible_to(actor).order_by("name", "id")
        ]

    def show_error(self, exc: DomainError) -> None:
        for detail in exc.details if isinstance(exc.details, list) else []:
            field = str(detail.get("field", "")) if isinstance(detail, dict) else ""
            if field.startswith("message.template.variables."):
                detail["field"] = "message.template.variables"
        super().show_error(exc)

    def inbox_rates(self) -> list[tuple[int, str, int]]:
        return [(inbox.pk, inbox.name, inbox.rate_limit_per_second) for inbox in self.inboxes]

    def audience(self) -> dict:
        data = self.cleaned_data
        return {
            "list_ids": data.get("list_ids") or [], "segment_id": data.get("segment_id"),
            "tags": [tag.strip() for tag in data.get("tags", "").split(",") if tag.strip()],
        }

    def message(self) -> dict:
        data = self.cleaned_data
        if data.get("kind") == "template":
            name, _sep, language = (data.get("template") or "").partition("|")
            lines = data.get("template_variables", "").splitlines()
            variables = [line.strip() for line in lines if line.strip()]
            return {"text": None, "template": {"name": name, "language": language, "variables": variables}}
        return {"text": data.get("text", ""), "template": None}

    def send_window(self) -> dict:
        data = self.cleaned_data
        if not (data.get("window_days") or data.get("window_start") or data.get("window_end")):
            return {}
        return {"days": data.get("window_days") or list(DAYS), "start": data.get("window_start") or "00:00",
                "end": data.get("window_end") or "23:59"}

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "inbox_id": data["inbox_id"], "audience": self.audience(),
            "message": self.message(), "media_id": data.get("media_id"),
            "timezone": data.get("timezone") or "UTC",
            "scheduled_at": data.get("scheduled_at") or None, "send_window": self.send_window(),
            "rate_per_second": data.get("rate_per_second"),
        }

    @staticmethod
    def initial_for(campaign: Campaign) -> dict:
        audience, window, template = campaign.audience or {}, campaign.send_window or {}, campaign.template
        local = campaign.scheduled_at.astimezone(zoneinfo.ZoneInfo(campaign.timezone)) \
            if campaign.scheduled_at else None
        return {
            "name": campaign.name, "inbox_id": campaign.inbox_id, "list_ids": audience.get("list_ids", []),
            "segment_id": audience.get("segment_id"), "tags": ", ".join(audience.get("tags", [])),
            "kind": "template" if template else "text", "text": campaign.text,
            "template": f"{template['name']}|{template['language']}" if template else "",
            "template_variables": "\n".join(template.get("variables", [])) if template else "",
            "media_id": campaign.media_id, "timezone": campaign.timezone,
            "scheduled_at": local.strftime("%Y-%m-%dT%H:%M") if local else "",
            "window_days": window.get("days", []), "window_start": window.get("start", ""),
            "window_end": window.get("end", ""), "rate_per_second": campaign.rate_per_second,
        }


def _chosen_media(request, form: CampaignForm, campaign: Campaign | None):
    """The file the form carries: the one just uploaded (if this user may see it) or the campaign's."""
    value = form.data.get("media_id") if form.is_bound else None
    if value and str(value).isdigit():
        if campaign is not None and campaign.media_id == int(value):
            return campaign.media
        try:
            return media_get_for(request.user, int(value))
        except DomainError:
            return None
    return campaign.media if campaign is not None and not form.is_bound else None


def _builder(request, form: CampaignForm, campaign: Campaign | None, status: int = 200):
    contacts = Contact.objects.order_by("-id")[:50]
    return render(request, "web/campaigns/builder.html", {
        **SECTION, "form": form, "campaign": campaign, "variables": VARIABLE_BUTTONS,
        "preview_contacts": contacts, "media": _chosen_media(request, form, campaign),
        "media_error": " ".join(form.errors.get("media_id", [])),
    }, status=status)


def _save(request, form: CampaignForm, campaign: Campaign | None):
    form.fill_audience_choices(request.user)
    if request.method != "POST":
        return _builder(request, form, campaign)
    if not form.is_valid():
        return _builder(request, form, campaign, status=422)
    try:
        if campaign is None:
            campaign = services.campaign_create(actor=request.user, **form.service_fields())
            messages.success(request, _("Draft %(name)s saved.") % {"name": campaign.name})
        else:
            fields = form.service_fields()
            if fields["media_id"] == campaign.media_id:
                # Unchanged: another manager's upload stays without this user having to see it.
                fields.pop("media_id")
            campaign = services.campaign_update(actor=request.user, campaign=campaign, **fields)
            messages.success(request, _("Campaign saved."))
    except DomainError as exc:
        form.show_error(exc)
        return _builder(request, form, campaign, status=exc.status)
    return redirect("web:campaign", campaign_id=campaign.pk)


@campaigns_page
@require_http_methods(["GET", "POST"])
def new_view(request):
    return _save(request, CampaignForm(request.POST or None), None)


@campaigns_page
@require_http_methods(["GET", "POST"])
def edit_view(request, campaign_id: int):
    campaign = campaign_get_for(request.user, campaign_id)
    if campaign.status not in Campaign.EDITABLE:
        messages.error(request, _("Only draft or scheduled campaigns can be changed."))
        return redirect("web:campaign", campaign_id=campaign.pk)
    form = CampaignForm(request.POST or None, initial=CampaignForm.initial_for(campaign))
    return _save(request, form, campaign)


@campaigns_page
@require_GET
def audience_count_view(request):
    """The builder's live count of the audience chosen so far (not saved)."""
    list_ids = [int(value) for value in request.GET.getlist("list_ids") if value.isdigit()]
    segment = request.GET.get("segment_id", "")
    tags = [tag.strip() for tag in request.GET.get("tags", "").split(",") if tag.strip()]
    counts, error = None, ""
    try:
        counts = audience_count(request.user, {
            "list_ids": list_ids, "segment_id": int(segment) if segment.isdigit() else None, "tags": tags,
        })
    except DomainError as exc:
        error = _error_text(exc)
    return render(request, "web/campaigns/partials/audience_count.html", {"counts": counts, "error": error})


@campaigns_page
@require_GET
def preview_view(request):
    """The message as a chosen contact would receive it, from the builder's fields (not saved)."""
    form = CampaignForm(request.GET)
    form.is_valid()  # only the message fields matter here; the rest may be unfinished
    data = form.cleaned_data
    inbox_id = data.get("inbox_id") or (form.inboxes[0].pk if form.inboxes else None)
    draft = Campaign(inbox_id=inbox_id)
    if data.get("kind") == "template":
        draft.template = form.message()["template"]
    else:
        draft.text = data.get("text", "")
    contact_id = request.GET.get("preview_contact", "")
    text, error = "", ""
    if not contact_id.isdigit():
        error = _("Choose a contact to preview the message.")
    else:
        try:
            text = campaign_preview(request.user, draft, contact_id=int(contact_id))["text"]
        except DomainError as exc:
            error = _error_text(exc)
    return render(request, "web/campaigns/partials/preview.html", {"text": text, "error": error})


@campaigns_page
@require_http_methods(["GET", "POST"])
def media_view(request, media_id: int | None = None):
    """The builder's attachment: POST uploads the chosen file into quarantine (the scan runs in the
    background); GET shows a file's status (polled while it is being scanned), or nothing."""
    media, error = None, ""
    try:
        if request.method == "POST":
            uploaded = request.FILES.get("file")
            if uploaded is None:
                error = _("Choose a file.")
            else:
                media = media_upload(actor=request.user, fileobj=uploaded, size=uploaded.size,
                                     filename=uploaded.name, declared_type=uploaded.content_type)
        elif media_id is not None:
            media = media_get_for(request.user, media_id)
    except DomainError as exc:
        error = _error_text(exc)
    return render(request, "web/campaigns/partials/media.html", {"media": media, "media_error": error})


# --- the list, the progress page and the report -------------------------------------------------

@campaigns_page
@require_GET
def list_view(request):
    campaigns = list(campaigns_visible_to(request.user).order_by("-id")[:200])
    rows = [(campaign, campaign_stats(campaign.pk)) for campaign in campaigns]
    return render(request, "web/campaigns/list.html", {**SECTION, "rows": rows})


def _chart(per_minute: list[dict]) -> dict:
    """Bars of sends per minute for the server-rendered SVG (viewBox 600×160, last CHART_BUCKETS)."""
    buckets = per_minute[-CHART_BUCKETS:]
    if not buckets:
        return {"bars": []}
    top = max(bucket["count"] for bucket in buckets) or 1
    width = 600 / max(len(buckets), 1)
    bars = [{
        "x": round(index * width + 1, 2), "width": round(max(width - 2, 1), 2),
        "height": round(140 * bucket["count"] / top, 2), "y": round(150 - 140 * bucket["count"] / top, 2),
        "minute": bucket["minute"], "count": bucket["count"],
    } for index, bucket in enumerate(buckets)]
    return {"bars": bars, "top": top, "first": buckets[0]["minute"], "last": buckets[-1]["minute"]}


def _percent(stats: dict) -> int:
    done = stats["sent"] + stats["failed"] + stats["skipped"]
    return min(100, int(100 * done / stats["total"])) if stats["total"] else 0


def _audience_names(actor, audience: dict) -> dict:
    """The audience's lists and segment by name (ids another page may have deleted meanwhile drop out)."""
    list_ids, segment_id = audience.get("list_ids") or [], audience.get("segment_id")
    return {
        "lists": list(lists.contact_lists_visible_to(actor).filter(pk__in=list_ids)
                      .order_by("name").values_list("name", flat=True)),
        "segment": segments.segments_visible_to(actor).filter(pk=segment_id).values_list("name", flat=True)
        .first() if segment_id else None,
        "tags": audience.get("tags") or [],
    }


def _live_context(request, campaign: Campaign) -> dict:
    report = campaign_report(request.user, campaign)
    stats = report["stats"]
    return {
        **SECTION, "campaign": campaign, "stats": stats, "percent": _percent(stats), "report": report,
        "chart": _chart(report["sends_per_minute"]), "actions": ACTIONS.get(campaign.status, ("duplicate",)),
        "final": campaign.status in Campaign.FINAL,
        "schedule_value": CampaignForm.initial_for(campaign)["scheduled_at"],
        "rates": {key: round(value * 100, 1) for key, value in report["rates"].items()},
        "audience": _audience_names(request.user, campaign.audience or {}),
        "window_days": [str(DAY_LABELS[day]) for day in (campaign.send_window or {}).get("days", [])],
    }


@campaigns_page
@require_GET
def detail_view(request, campaign_id: int):
    campaign = campaign_get_for(request.user, campaign_id)
    context = _live_context(request, campaign)
    if request.htmx and request.GET.get("part") == "live":
        return render(request, "web/campaigns/partials/live.html", context)
    status = request.GET.get("status", "")
    try:
        recipients = campaign_recipients(request.user, campaign, status=status or None).order_by("id")
    except DomainError:
        status, recipients = "", campaign_recipients(request.user, campaign).order_by("id")
    page = Paginator(recipients, RECIPIENTS_PAGE).get_page(request.GET.get("page"))
    context.update({
        "recipients": page, "status_filter": status, "recipient_statuses": CampaignRecipient.Status.choices,
    })
    return render(request, "web/campaigns/detail.html", context)


ACTION_SERVICES = {
    "start": services.campaign_start, "pause": services.campaign_pause, "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
}
ACTION_DONE = {
    "start": gettext_lazy("Campaign started."), "pause": gettext_lazy("Campaign paused."),
    "resume": gettext_lazy("Campaign resumed."), "cancel": gettext_lazy("Campaign cancelled."),
    "schedule": gettext_lazy("Campaign scheduled."),
}


@campaigns_page
@require_POST
def action_view(request, campaign_id: int, action: str):
    """Schedule, start, pause, resume, cancel, duplicate or delete; a refusal is shown on the page."""
    campaign = campaign_get_for(request.user, campaign_id)
    try:
        if action == "duplicate":
            copy = services.campaign_duplicate(actor=request.user, campaign=campaign)
            messages.success(request, _("Copied as %(name)s.") % {"name": copy.name})
            return _to_detail(request, copy.pk)
        if action == "delete":
            services.campaign_delete(actor=request.user, campaign=campaign)
            messages.success(request, _("Draft %(name)s deleted.") % {"name": campaign.name})
            url = reverse("web:campaigns")
            if request.htmx:
                response = HttpResponse("")
                response["HX-Redirect"] = url
                return response
            return redirect(url)
        if action == "schedule":
            services.campaign_schedule(
                actor=request.user, campaign=campaign,
                scheduled_at=request.POST.get("scheduled_at") or None,
                timezone_name=request.POST.get("timezone") or None,
            )
        elif action in ACTION_SERVICES:
            ACTION_SERVICES[action](actor=request.user, campaign=campaign)
        else:
            return HttpResponse(status=404)
    except ValidationFailed as exc:
        messages.error(request, _error_text(exc))
    except DomainError as exc:  # 409: its message says which move was refused
        messages.error(request, exc.message)
    else:
        messages.success(request, ACTION_DONE[action])
    return _to_detail(request, campaign.pk)


@campaigns_page
@require_GET
def report_csv_view(request, campaign_id: int):
    """The same file as the API's `report.csv` (apps.campaigns.report_csv), audited alike."""
    campaign = campaign_get_for(request.user, campaign_id)
    try:
        services.campaign_report_export(actor=request.user, campaign=campaign, request=request)
    except RateLimited as exc:
        refused = HttpResponse(exc.message, status=429, content_type="text/plain; charset=utf-8")
        for name, value in exc.headers.items():
            refused[name] = value
        return refused
    response = StreamingHttpResponse(campaign_report_csv(request.user, campaign),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
