"""`GET /metrics` on BASE_DOMAIN: Prometheus text for the operator, behind METRICS_TOKEN.

What every process recorded comes from Redis (conversa.metrics); what is true of the whole system
now is read at the scrape: companies by status, Huey's queue, and per-company figures.

Per-company series: one gauge per company and figure (agents, inboxes, contacts, outbound
messages this month), read from the public schema's `CompanyCounts` and `MonthlyUsage` (two
queries whatever the number of companies, never one per schema). Labelled by the company's id
(not its name or slug, which may name a person). At most METRICS_COMPANY_SERIES companies are
listed, the busiest first; `conversa_metrics_companies_omitted` says how many were left out, so a
platform of 100,000 companies does not hand Prometheus 400,000 series.
"""

import hmac

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from huey.contrib.djhuey import HUEY
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from conversa import metrics
from tenants.models import Company, CompanyCounts, MonthlyUsage
from tenants.usage import month_start


def _authorised(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = settings.METRICS_TOKEN.encode()
    # Compared in constant time: the scrape answers anyone who can reach BASE_DOMAIN.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


def _companies():
    tenants = Company.objects.exclude(schema_name="public")
    by_status = GaugeMetricFamily("conversa_companies", "Companies by status.", labels=["status"])
    counted = dict(tenants.order_by().values_list("status").annotate(n=Count("pk")))
    for status in Company.Status.values:
        by_status.add_metric([status], counted.get(status, 0))
    yield by_status

    limit = settings.METRICS_COMPANY_SERIES
    usage = dict(
        MonthlyUsage.objects.filter(month=month_start()).order_by("-outbound_messages", "company_id")
        .values_list("company_id", "outbound_messages")
    )
    active = list(tenants.filter(status__in=[Company.Status.ACTIVE, Company.Status.TRIAL])
                  .order_by("pk").values_list("pk", flat=True))
    chosen = sorted(active, key=lambda pk: (-usage.get(pk, 0), pk))[:limit]
    counts = {row.company_id: row for row in CompanyCounts.objects.filter(company_id__in=chosen)}
    families = {
        figure: GaugeMetricFamily(f"conversa_company_{figure}", text, labels=["company_id"])
        for figure, text in (
            ("agents", "Active users of a company (as last counted)."),
            ("inboxes", "Active inboxes of a company (as last counted)."),
            ("contacts", "Contacts of a company (as last counted)."),
            ("outbound_messages_month", "Messages a company sent this calendar month (UTC)."),
        )
    }
    for pk in chosen:
        row = counts.get(pk)
        for figure in ("agents", "inboxes", "contacts"):
            families[figure].add_metric([str(pk)], getattr(row, figure) if row else 0)
        families["outbound_messages_month"].add_metric([str(pk)], usage.get(pk, 0))
    yield from families.values()
    omitted = GaugeMetricFamily(
        "conversa_metrics_companies_omitted",
        "Active companies left out of the per-company series (METRICS_COMPANY_SERIES).",
    )
    omitted.add_metric([], max(0, len(active) - len(chosen)))
    yield omitted


def _queue():
    pending = GaugeMetricFamily("conversa_huey_queue_pending", "Huey tasks waiting for a worker.")
    pending.add_metric([], HUEY.pending_count())
    yield pending
    scheduled = GaugeMetricFamily("conversa_huey_scheduled", "Huey tasks scheduled for later.")
    scheduled.add_metric([], HUEY.scheduled_count())
    yield scheduled


class _Scrape:
    """A one-shot collector: the families of this scrape."""

    def __init__(self):
        raw = metrics.stored()
        metrics.forget_stale_gauges(raw)
        self.families = [*metrics.families(raw), *_queue(), *_companies()]

    def collect(self):
        return iter(self.families)


@require_GET
def metrics_view(request):
    if not settings.METRICS_TOKEN:
        raise Http404()
    if not _authorised(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
