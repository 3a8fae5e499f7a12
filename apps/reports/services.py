"""Downloading a report as a file: CSV, XLSX or (the summary) PDF.

Allowed to whoever may read reports, when the plan has `reports_export`; 5 a minute per user or key
(SPEC §13 exports, else 429); audited as `report.exported`. The file holds exactly what the same
request as JSON shows (the actor's scope: a supervisor's teams only).
"""

import io
from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.exports.writers import write_csv, write_xlsx
from apps.reports import selectors
from apps.reports.pdf import summary_pdf
from apps.reports.periods import Period
from apps.reports.scope import report_scope
from apps.reports.tables import KINDS, report_table
from conversa import ratelimit
from conversa.errors import ValidationFailed
from tenants.limits import ensure_feature
from tenants.models import Company

EXPORTS_PER_MINUTE = 5
FORMATS = ("csv", "xlsx", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
READERS = {
    "summary": selectors.report_summary,
    "agents": selectors.report_agents,
    "teams": selectors.report_teams,
    "inboxes": selectors.report_inboxes,
    "campaigns": selectors.report_campaigns,
    "flows": selectors.report_flows,
}


@dataclass(frozen=True)
class ReportFile:
    filename: str
    content_type: str
    content: bytes


def report_export(*, actor: Actor, company: Company, kind: str, format: str, period: Period,
                  request=None) -> ReportFile:
    if kind not in KINDS:
        raise ValidationFailed(details=[{"field": "kind", "message": _("Use one of: %(values)s.")
                                         % {"values": ", ".join(KINDS)}}])
    if format not in FORMATS or (format == "pdf" and kind != "summary"):
        allowed = FORMATS if kind == "summary" else FORMATS[:2]
        raise ValidationFailed(details=[{"field": "format", "message": _("Use one of: %(values)s.")
                                         % {"values": ", ".join(allowed)}}])
    report_scope(actor)
    ensure_feature(company, "reports_export")
    ratelimit.hit(f"{connection.schema_name}:report-export:{actor.__class__.__name__}:{actor.pk}",
                  limit=EXPORTS_PER_MINUTE, window=60)
    data = READERS[kind](actor, period)
    name = f"{kind}-{period.first_day.isoformat()}-{period.last_day.isoformat()}.{format}"
    if format == "pdf":
        title = _("%(company)s: report summary") % {"company": company.brand_name or company.name}
        subtitle = _("From %(from)s to %(to)s (%(tz)s)") % {
            "from": period.first_day.isoformat(), "to": period.last_day.isoformat(), "tz": period.tz}
        content = summary_pdf(data, title=title, subtitle=subtitle)
    else:
        header, rows = report_table(kind, data)
        out = io.BytesIO()
        if format == "csv":
            write_csv(out, header, rows)
        else:
            write_xlsx(out, header, rows, title=kind)
        content = out.getvalue()
    audit_record(action="report.exported", entity_type="report", entity_id=kind, actor=actor,
                 changes={"format": [None, format],
                          "period": [None, f"{period.first_day}/{period.last_day}"]},
                 request=request)
    return ReportFile(filename=name, content_type=CONTENT_TYPES[format], content=content)
