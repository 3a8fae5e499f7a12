"""`/api/v1/reports`: summary, per agent, team, inbox, campaign and flow, trends and the live dashboard
(SPEC §12, §15.1). Supervisors and admins (API keys: `conversations:read`); supervisors read their
teams' figures only. `?format=csv|xlsx` (or a `.csv`/`.xlsx` suffix) downloads a report, `pdf` the
summary, when the plan has `reports_export`.

A new report is one reader in `READERS` below and, for its files, a table in
`apps.reports.tables`."""

from django.http import HttpResponse
from ninja import Query, Router

from apps.reports import selectors
from apps.reports.live import report_live
from apps.reports.periods import period_parse
from apps.reports.services import READERS, report_export
from ninja_api.routers.report_schemas import OUTPUTS, LiveOut, TrendsOut

router = Router(tags=["reports"])

FROM = Query(None, alias="from",
             description="First day (YYYY-MM-DD) in the time zone; default 6 days before `to`.")
TO = Query(None, description="Last day (YYYY-MM-DD), included; default today.")
TZ = Query(None, description="IANA time zone of the days; default the company's.")
FORMAT = Query(None, description="csv or xlsx to download the report (pdf: the summary only).")


def _period(request, first, last, tz, interval=None):
    return period_parse(first=first, last=last, tz=tz, company_tz=request.tenant.time_zone, interval=interval)


def _file(request, kind: str, format: str, period):
    found = report_export(actor=request.auth, company=request.tenant, kind=kind, format=format,
                          period=period, request=request)
    response = HttpResponse(found.content, content_type=found.content_type)
    response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    return response


def _report(kind: str):
    def read(request, from_: str | None = FROM, to: str | None = TO, tz: str | None = TZ,
             format: str | None = FORMAT):
        period = _period(request, from_, to, tz)
        if format:
            return _file(request, kind, format, period)
        return READERS[kind](request.auth, period)

    read.__name__ = f"report_{kind}"
    read.__doc__ = f"The {kind} report for the period."
    return read


for _kind in READERS:
    # A file answer (`?format=`) bypasses the schema: an HttpResponse is returned as it is.
    route = router.get(f"/{_kind}", response=OUTPUTS[_kind], by_alias=True, url_name=f"report-{_kind}")
    route(_report(_kind))


@router.get("/live", response=LiveOut)
def live(request):
    """Agents by status, queues and longest waits, today's opened/closed, the last hour's messages
    and today's SLA compliance; also pushed as `report.live` frames."""
    return report_live(request.auth, company=request.tenant)


@router.get("/trends", response=TrendsOut, by_alias=True)
def trends(request, metric: str = Query("conversations_opened", description=", ".join(selectors.METRICS)),
           interval: str = Query("day", description="hour or day"), from_: str | None = FROM,
           to: str | None = TO, tz: str | None = TZ):
    period = _period(request, from_, to, tz, interval=interval)
    return selectors.report_trends(request.auth, period, metric=metric, interval=interval)


@router.get("/{kind}.{format}")
def download(request, kind: str, format: str, from_: str | None = FROM, to: str | None = TO,
             tz: str | None = TZ):
    """A report as a file: `summary.csv`, `agents.xlsx`, `summary.pdf`…"""
    return _file(request, kind, format, _period(request, from_, to, tz))
