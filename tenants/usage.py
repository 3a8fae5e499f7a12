"""Monthly usage counters, changed only by atomic upserts so concurrent workers never lose counts."""

import datetime as dt

from django.utils import timezone

from tenants import databases
from tenants.models import Company, MonthlyUsage

COUNTERS = ("outbound_messages", "storage_bytes")


def month_start(moment: dt.datetime | None = None) -> dt.date:
    moment = moment or timezone.now()
    return moment.astimezone(dt.UTC).date().replace(day=1)


def usage_increment(*, schema_name: str, counter: str, amount: int = 1, at=None) -> int:
    """Add `amount` to this month's `counter` of the company of `schema_name` and return the new
    value. The company is found by the same statement: a send counts itself in one round trip."""
    if counter not in COUNTERS:
        raise ValueError(f"unknown usage counter {counter!r}")
    table, companies = MonthlyUsage._meta.db_table, Company._meta.db_table
    initial = [amount if name == counter else 0 for name in COUNTERS]
    # The platform's table, on the main cluster even while this thread serves a company elsewhere
    # (the same connection as the company's work when the company lives there too).
    with databases.main_connection().cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{table} (company_id, month, {', '.join(COUNTERS)})"
            f" VALUES ((SELECT id FROM public.{companies} WHERE schema_name = %s), %s, %s, %s)"
            f" ON CONFLICT (company_id, month)"
            f" DO UPDATE SET {counter} = {table}.{counter} + EXCLUDED.{counter} RETURNING {counter}",
            [schema_name, month_start(at), *initial],
        )
        return cursor.fetchone()[0]


def usage_for_month(*, company_id: int, at=None) -> dict:
    row = MonthlyUsage.objects.filter(company_id=company_id, month=month_start(at)).first()
    return {name: getattr(row, name) if row else 0 for name in COUNTERS}
