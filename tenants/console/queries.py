"""Reads for the console's pages: the companies list, a company's usage history."""

import datetime as dt

from django.core.paginator import Paginator
from django.db.models import Q

from tenants.models import Company, CompanyCounts, MonthlyUsage
from tenants.usage import month_start

PAGE_SIZE = 50


def companies_page(*, q: str = "", status: str = "", plan: str = "", page: int | str = 1):
    """One page of companies with cached counts and this month's usage: four queries in all,
    whatever the number of companies (count, page, counts, usage)."""
    companies = Company.objects.select_related("plan").exclude(schema_name="public").only(
        "id", "name", "slug", "status", "status_reason", "plan__code", "plan__name",
    ).order_by("name", "id")
    if q:
        companies = companies.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    if status:
        companies = companies.filter(status=status)
    if plan:
        companies = companies.filter(plan__code=plan)
    paginator = Paginator(companies, PAGE_SIZE)
    current = paginator.get_page(page)
    ids = [company.pk for company in current.object_list]
    counts = {row.company_id: row for row in CompanyCounts.objects.filter(company_id__in=ids)}
    usage = {
        row.company_id: row
        for row in MonthlyUsage.objects.filter(company_id__in=ids, month=month_start())
    }
    rows = [
        {"company": company, "counts": counts.get(company.pk), "usage": usage.get(company.pk)}
        for company in current.object_list
    ]
    return current, rows


def months_back(count: int, *, today: dt.date | None = None) -> list[dt.date]:
    """The first days of the last `count` months, oldest first, this month last."""
    month = today.replace(day=1) if today else month_start()
    months = []
    for _ in range(count):
        months.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return months[::-1]


def usage_history(company: Company, *, months: int = 12) -> list[dict]:
    wanted = months_back(months)
    rows = {
        row.month: row
        for row in MonthlyUsage.objects.filter(company=company, month__gte=wanted[0])
    }
    return [
        {
            "month": month,
            "outbound_messages": rows[month].outbound_messages if month in rows else 0,
            "storage_bytes": rows[month].storage_bytes if month in rows else 0,
        }
        for month in wanted
    ]


def bar_chart(values: list[tuple[str, int, str]], *, width: int = 600, height: int = 160) -> dict:
    """Geometry of an inline SVG bar chart: (label, value, shown value) per bar, tallest = full."""
    top = max((value for _, value, _ in values), default=0) or 1
    slot = width / max(len(values), 1)
    plot = height - 20  # room for the month labels below
    bars = []
    for index, (label, value, shown) in enumerate(values):
        bar_height = round(plot * value / top, 1) if value else 0
        bars.append({
            "x": round(index * slot + slot * 0.15, 1), "width": round(slot * 0.7, 1),
            "y": round(plot - bar_height, 1), "height": bar_height,
            "label": label, "label_x": round(index * slot + slot / 2, 1), "shown": shown,
            "value_y": round(max(plot - bar_height - 3, 10), 1), "value": value,
        })
    return {"width": width, "height": height, "label_y": height - 5, "base_y": plot, "bars": bars}
