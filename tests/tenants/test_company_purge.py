"""A cancelled company is purged in the background once its retention is over: schema, files, rows."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_exists

from tenants import lifecycle
from tenants.models import Company, Domain, PlatformAuditEntry
from tenants.tasks import company_lifecycle_periodically

pytestmark = pytest.mark.django_db


def stored(company: Company, name: str) -> str:
    return default_storage.save(f"tenants/{company.schema_name}/media/2026/12/{name}", ContentFile(b"data"))


def settled() -> None:
    """Check the deferred foreign keys of the rows made so far, as their commit would have: a schema
    cannot be dropped in the transaction that still owes checks on its tables."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def cancelled(company: Company) -> Company:
    settled()
    lifecycle.company_cancel(company=company)
    assert lifecycle.grace_periods_end(now=timezone.now() + dt.timedelta(days=31)) >= 1
    return Company.objects.get(pk=company.pk)


def test_a_cancelled_company_is_purged_after_its_retention_and_no_other(make_company, settings):
    settings.COMPANY_PURGE_AFTER_DAYS = 30
    leaving, staying, recently_cancelled = make_company(), make_company(), make_company()
    leaving_file, staying_file = stored(leaving, "a.txt"), stored(staying, "b.txt")
    cancelled(leaving)
    Company.objects.filter(pk=leaving.pk).update(status_changed_at=timezone.now() - dt.timedelta(days=31))
    cancelled(recently_cancelled)

    assert company_lifecycle_periodically.call_local()["purged"] == 1

    assert not Company.objects.filter(pk=leaving.pk).exists()
    assert not Domain.objects.filter(tenant_id=leaving.pk).exists()
    assert not schema_exists(leaving.schema_name)
    assert not default_storage.exists(leaving_file)
    assert not default_storage.exists(f"tenants/{leaving.schema_name}")
    audit = PlatformAuditEntry.objects.get(action="company.purged", details__schema=leaving.schema_name)
    assert audit.details["slug"] == leaving.slug
    # The others keep everything: another company's data, and a cancelled one still in retention.
    assert default_storage.exists(staying_file)
    for kept in (staying, recently_cancelled):
        assert Company.objects.filter(pk=kept.pk).exists() and schema_exists(kept.schema_name)
    assert lifecycle.companies_purge() == 0


def test_a_company_is_purged_once_its_retention_ends_not_before(make_company, settings):
    settings.COMPANY_PURGE_AFTER_DAYS = 30
    company = cancelled(make_company())
    now = timezone.now()

    assert lifecycle.companies_purge(now=now + dt.timedelta(days=29)) == 0
    assert schema_exists(company.schema_name)
    assert lifecycle.companies_purge(now=now + dt.timedelta(days=31)) == 1
    assert not schema_exists(company.schema_name)
