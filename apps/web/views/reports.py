"""The Reports page of the agents' UI (SPEC §12): a date range, summary cards, per agent / team /
inbox / campaign tables, trend charts drawn as server-side SVG, the live dashboard (kept current by
`report.live` frames, static/web/reports.js) and CSV/XLSX/PDF downloads. Supervisors and admins;
supervisors see their teams' figures only (the same selectors as the API)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from apps.reports import selectors
from apps.reports.live import report_live
from apps.reports.periods import period_parse
from apps.reports.services import report_export
from apps.web.auth import action_required
from conversa.errors import DomainError, ValidationFailed

SECTION = {"section": "reports"}
CHARTS = (
    ("conversations_opened", gettext_lazy("Conversations opened")),
    ("messages_in", gettext_lazy("Messages in")),
    ("messages_out", gettext_lazy("Messages out")),
    ("first_response_median", gettext_lazy("First response, median (business time)")),
)
SHEETS = ("csv", "xlsx")
DOWNLOADS = (
    ("summary", gettext_lazy("Summary"), (*SHEETS, "pdf")), ("agents", gettext_lazy("Agents"), SHEETS),
    ("teams", gettext_lazy("Teams"), SHEETS), ("inboxes", gettext_lazy("Inboxes"), SHEETS),
    ("campaigns", gettext_lazy("Campaigns"), SHEETS), ("flows", gettext_lazy("Flows"), SHEETS),
)
WIDTH, HEIGHT, TOP = 600, 160, 140


def reports_page(view):
    return action_required("reports.read", forbidden_page=("web/reports/forbidden.html", SECTION))(view)


def _period(request, company_tz: str):
    """The period of the query string; its errors shown and the default period used instead."""
    query = request.GET
    try:
        return period_parse(first=query.get("from"), last=query.get("to"), tz=query.get("tz"),
                            company_tz=company_tz), []
    except ValidationFailed as exc:
        return period_parse(first=None, last=None, tz=None, company_tz=company_tz), exc.details


def chart_of(points: list[dict]) -> dict:
    """Bars (viewBox 600×160) of a trend's points; a point without a value draws no bar."""
    values = [point["value"] for point in points]
    top = max((value for value in values if value is not None), default=0) or 1
    width = WIDTH / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        value = point["value"] or 0
        height = round(TOP * value / top, 2)
        bars.append({"x": round(index * width + 1, 2), "width": round(max(width - 2, 1), 2),
                     "height": height, "y": round(HEIGHT - 10 - height, 2), "at": point["at"],
                     "value": point["value"]})
    return {"bars": bars, "top": top if any(values) else 0,
            "first": points[0]["at"][:10] if points else "", "last": points[-1]["at"][:10] if points else ""}


@reports_page
@require_GET
def reports_view(request):
    actor, company = request.user, request.tenant
    period, errors = _period(request, company.time_zone)
    charts = []
    for metric, label in CHARTS:
        trend = selectors.report_trends(actor, period, metric=metric, interval="day")
        charts.append({"metric": metric, "label": label, "seconds": metric.endswith("_median"),
                       **chart_of(trend["points"])})
    context = {
        **SECTION,
        "period": period,
        "errors": errors,
        "summary": selectors.report_summary(actor, period),
        "agents": selectors.report_agents(actor, period)["items"],
        "teams": selectors.report_teams(actor, period)["items"],
        "inboxes": selectors.report_inboxes(actor, period)["items"],
        "campaigns": selectors.report_campaigns(actor, period)["items"],
        "flows": (selectors.report_flows(actor, period)["items"]
                  if company.plan.has_feature("flows") else None),
        "charts": charts,
        "live": report_live(actor, company=company),
        "downloads": DOWNLOADS if company.plan.has_feature("reports_export") else (),
        # The live dashboard's script writes durations as the server does (report_tags.duration).
        "ui_duration": {"s": _("%(n)d s"), "min": _("%(n)d min"), "h": _("%(h)d h %(m)02d min"),
                        "d": _("%(d)d d %(h)d h")},
        "query": f"from={period.first_day.isoformat()}&to={period.last_day.isoformat()}&tz={period.tz}",
    }
    return render(request, "web/reports/page.html", context)


@reports_page
@require_GET
def export_view(request, kind: str, format: str):
    period, errors = _period(request, request.tenant.time_zone)
    if errors:
        return HttpResponse(_("Invalid date range."), status=422, content_type="text/plain; charset=utf-8")
    try:
        found = report_export(actor=request.user, company=request.tenant, kind=kind, format=format,
                              period=period, request=request)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(found.content, content_type=found.content_type)
    response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    return response
