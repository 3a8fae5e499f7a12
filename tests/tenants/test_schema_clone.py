"""A company's schema is the template's DDL replayed: the same catalog, its own sequences, all or nothing."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django_tenants.utils import schema_exists

from tenants import schema_pool, schema_template
from tenants.models import Company, Domain, SchemaPoolEntry
from tests.conftest import provision
from tests.fixtures.factories import make_user
from tests.tenants.catalog import differences, schema_snapshot, sequences_of

pytestmark = pytest.mark.django_db

TEMPLATE = "tenant_template"


def test_a_clone_has_the_template_columns_defaults_indexes_constraints_and_rows():
    schema_template.clone_template("zz_clone_twin")

    template, clone = schema_snapshot(TEMPLATE), schema_snapshot("zz_clone_twin")

    assert differences(template, clone, clone_schema="zz_clone_twin", template_schema=TEMPLATE) == []
    assert len(template["indexes"]) > 100 and any(c[2] == "f" for c in template["constraints"])
    assert "django_migrations" in template["rows"] and template["rows"]["django_migrations"] != "[]"
    # The comparison sees one missing index, and a predicate that differs in meaning.
    table, dropped = next(row[:2] for row in clone["indexes"]
                          if not row[2] and row[0] != "contacts_contactimport")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX zz_clone_twin."{dropped}"')
        cursor.execute("DROP INDEX zz_clone_twin.import_unfinished_idx")
        cursor.execute("CREATE INDEX import_unfinished_idx ON zz_clone_twin.contacts_contactimport "
                       "(heartbeat_at) WHERE status IN ('queued')")
    found = differences(template, schema_snapshot("zz_clone_twin"), clone_schema="zz_clone_twin",
                        template_schema=TEMPLATE)
    assert found[0] == f"indexes {[(table, dropped)]}"
    assert len(found) == 2
    assert found[1].startswith("index ('contacts_contactimport', 'import_unfinished_idx')")

def test_serial_and_generated_columns_checks_and_keys_to_public_tables_are_cloned_too(monkeypatch):
    # What Django's migrations do not make today but a RunSQL migration could.
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE TABLE {TEMPLATE}.zz_extras (
                id serial PRIMARY KEY,
                n integer NOT NULL DEFAULT 3 CHECK (n >= 0),
                doubled integer GENERATED ALWAYS AS (n * 2) STORED,
                plan_id bigint REFERENCES public.tenants_plan (id),
                label text COLLATE "C" UNIQUE)""")
        cursor.execute(f"INSERT INTO {TEMPLATE}.zz_extras (n) VALUES (1), (2)")
    monkeypatch.setattr(schema_template, "_scripts", {})  # the template changed without a migration

    schema_template.clone_template("zz_clone_extras")

    template, clone = schema_snapshot(TEMPLATE), schema_snapshot("zz_clone_extras")
    assert differences(template, clone, clone_schema="zz_clone_extras", template_schema=TEMPLATE) == []
    assert ("zz_extras", "zz_extras_plan_id_fkey", "f", True, False, False,
            "FOREIGN KEY (plan_id) REFERENCES public.tenants_plan(id)") in clone["constraints"]
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO zz_clone_extras.zz_extras (n) VALUES (5) RETURNING id, doubled")
        assert cursor.fetchone() == (3, 10)
        cursor.execute(f"SELECT last_value FROM {TEMPLATE}.zz_extras_id_seq")
        assert cursor.fetchone() == (2,)


def test_each_company_numbers_its_rows_with_its_own_sequences(make_company):
    first, second = make_company(), make_company()

    for company in (first, second):
        sequences = sequences_of(company.schema_name)
        assert sequences and all(seq.startswith(f"{company.schema_name}.") for seq in sequences.values())
    # Each first admin was user 1 of its company; the next user is 2 in both, whatever the other did.
    assert make_user(first).pk == 2
    assert make_user(first).pk == 3
    assert make_user(second).pk == 2


def test_a_clone_that_fails_half_way_leaves_no_schema_and_no_rows(monkeypatch, settings):
    settings.TENANT_SCHEMA_POOL_SIZE = 1
    schemas_before = _schemas()
    # The failure comes after every table, index and key of the script was created.
    key = (connection.alias, schema_template.template_version())
    monkeypatch.setitem(schema_template._scripts, key, schema_template.template_script() + "SELECT 1/0;")

    with pytest.raises(DatabaseError):
        schema_pool.fill()
    with pytest.raises(DatabaseError):
        provision("half-made")

    assert _schemas() == schemas_before
    assert not SchemaPoolEntry.objects.exists()
    assert not Company.objects.filter(slug="half-made").exists()
    assert not Domain.objects.filter(domain__startswith="half-made.").exists()
    assert not schema_exists("half_made")


def test_a_template_holding_what_the_script_cannot_copy_is_refused():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE VIEW {TEMPLATE}.zz_open_conversations AS SELECT 1 AS one")

    with pytest.raises(ImproperlyConfigured, match="zz_open_conversations"):
        schema_template.generate_template_script()


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}
