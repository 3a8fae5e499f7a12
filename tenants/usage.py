"""Monthly usage counters, changed only by atomic upserts so concurrent workers never lose counts."""

import datetime as dt

from django.db import connection
from django.utils import timezone

from tenants import databases
from tenants.models import Company, MonthlyUsage

COUNTERS = ("outbound_messages", "storage_bytes")


def month_start(moment: dt.datetime | None = None) -> dt.date:
    moment = moment or timezone.now()
    return moment.astimezone(dt.UTC).date().replace(day=1)


def usage_increment(*, company_id: int, counter: str, amount: int = 1, at=None) -> int:
    """Add `amount` to this month's `counter` of the company and return the new value."""
    return _increment("%s", company_id, counter=counter, amount=amount, at=at)


def usage_increment_current(*, counter: str, amount: int = 1, at=None) -> int:
    """`usage_increment` for the company whose schema this connection serves, found by the same
    statement (a send counts itself without a round trip to look its company up)."""
    table = Company._meta.db_table
    return _increment(
        f"(SELECT id FROM public.{table} WHERE schema_name = %s)", connection.schema_name,
        counter=counter, amount=amount, at=at,
    )


def _increment(company_sql: str, company_param, *, counter: str, amount: int, at) -> int:
    if counter not in COUNTERS:
        raise ValueError(f"unknown usage counter {counter!r}")
    table = MonthlyUsage._meta.db_table
    initial = [amount if name == counter else 0 for name in COUNTERS]
    # The platform's table, on the main cluster even while this thread serves a company elsewhere
    # (the same connection as the company's work when the company lives there too).
    with databases.main_connection().cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{table} (company_id, month, {', '.join(COUNTERS)})"
            f" VALUES ({company_sql}, %s, %s, %s) ON CONFLICT (company_id, month)"
            f" DO UPDATE SET {counter} = {table}.{counter} + EXCLUDED.{counter} RETURNING {counter}",
            [company_param, month_start(at), *initial],
        )
        return cursor.fetchone()[0]


def usage_for_month(*, company_id: int, at=None) -> dict:
    row = MonthlyUsage.objects.filter(company_id=company_id, month=month_start(at)).first()
    return {name: getattr(row, name) if row else 0 for name in COUNTERS}
