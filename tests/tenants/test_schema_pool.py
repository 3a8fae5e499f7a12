"""New companies take a schema cloned ahead of time; schemas of an older template are never used."""

import pytest
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from apps.accounts.models import User
from tenants import schema_pool
from tenants.models import SchemaPoolEntry
from tests.conftest import provision

pytestmark = pytest.mark.django_db


def tables_of(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_a_company_takes_a_ready_schema_and_works(settings):
    settings.TENANT_SCHEMA_POOL_SIZE = 2
    assert schema_pool.fill() == 2
    ready = list(SchemaPoolEntry.objects.values_list("schema_name", flat=True))

    company = provision("pooled-co")

    taken = set(ready) - set(SchemaPoolEntry.objects.values_list("schema_name", flat=True))
    assert len(taken) == 1 and not schema_exists(taken.pop())
    assert tables_of(company.schema_name) == tables_of("tenant_template")
    with schema_context(company.schema_name):
        assert User.objects.get().email == "admin@pooled-co.example.com"
    assert schema_pool.fill() == 1  # topped up again


def test_schemas_of_an_older_template_are_dropped_not_used(settings):
    settings.TENANT_SCHEMA_POOL_SIZE = 1
    schema_pool.fill()
    SchemaPoolEntry.objects.update(template_version="before-a-migration")
    stale = SchemaPoolEntry.objects.get().schema_name

    company = provision("fresh-co")

    assert schema_exists(stale) and SchemaPoolEntry.objects.filter(schema_name=stale).exists()
    assert schema_exists(company.schema_name)
    assert schema_pool.drop_stale() == 1
    assert not schema_exists(stale)
