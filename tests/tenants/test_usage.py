"""Monthly usage counters stay exact under concurrent increments."""

import datetime as dt
import threading

import pytest
from django.db import connections

from tenants.usage import usage_for_month, usage_increment


def test_concurrent_increments_are_never_lost(live_db, make_live_company):
    company = make_live_company()
    barrier = threading.Barrier(10)

    def send_many():
        barrier.wait()
        try:
            for _ in range(25):
                usage_increment(company_id=company.pk, counter="outbound_messages")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send_many) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert usage_for_month(company_id=company.pk)["outbound_messages"] == 250


@pytest.mark.django_db
def test_counters_are_per_calendar_month(alpha):
    january = dt.datetime(2026, 1, 31, 23, 59, tzinfo=dt.UTC)
    february = dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC)
    usage_increment(company_id=alpha.pk, counter="storage_bytes", amount=1000, at=january)
    usage_increment(company_id=alpha.pk, counter="storage_bytes", amount=5, at=february)
    assert usage_for_month(company_id=alpha.pk, at=january)["storage_bytes"] == 1000
    assert usage_for_month(company_id=alpha.pk, at=february) == {"outbound_messages": 0, "storage_bytes": 5}


@pytest.mark.django_db
def test_unknown_counters_are_a_programming_error(alpha):
    with pytest.raises(ValueError):
        usage_increment(company_id=alpha.pk, counter="anything")
