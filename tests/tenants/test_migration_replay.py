"""A release reaches many company schemas by replaying one schema's migration SQL in the others.

Three committed companies are put back to before a release (`accounts.0004_device_sessions`: a new
table with a foreign key and indexes, whose model brings a content type and four permissions), one
of them further back still. `migrate_schemas` as operators run it then migrates the first with
Django's executor, replays its statements in the second, and sends the third, whose migrations
differ, through the executor: all three end exactly as the template.
"""

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from tenants.models import Company
from tenants.schema_versions import tenant_migrations_stamp
from tests.tenants.catalog import differences, schema_snapshot
from tests.tenants.test_migrate_schemas import migrate

RELEASE = ("accounts", "0004_device_sessions")


def before_the_release(company: Company, *, also: tuple[str, str] | None = None) -> None:
    """The schema as a release without `RELEASE` left it: table, records, content type and
    permissions gone."""
    for app, previous in [("accounts", "0003_two_factor"), *([also] if also else [])]:
        call_command("migrate_schemas", schema_name=company.schema_name, app_label=app,
                     migration_name=previous, interactive=False, verbosity=0)
    with schema_context(company.schema_name), connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_permission WHERE content_type_id IN (SELECT id FROM "
                       "django_content_type WHERE app_label = 'accounts' AND model = 'devicesession')")
        cursor.execute("DELETE FROM django_content_type WHERE app_label = 'accounts' "
                       "AND model = 'devicesession'")


def rows(schema: str) -> dict:
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = set(cursor.fetchall())
        cursor.execute("SELECT p.codename, p.name FROM auth_permission p JOIN django_content_type ct "
                       "ON ct.id = p.content_type_id WHERE ct.model = 'devicesession'")
        permissions = set(cursor.fetchall())
    return {"applied": applied, "permissions": permissions}


def test_one_schema_is_migrated_and_the_others_of_its_release_replay_its_statements(make_live_company):
    pilot, follower, different = make_live_company(), make_live_company(), make_live_company()
    before_the_release(pilot)
    before_the_release(follower)
    before_the_release(different, also=("conversations", "0007_csat"))
    for company in (pilot, follower, different):
        assert RELEASE not in rows(company.schema_name)["applied"]
    connection.set_schema_to_public()
    Company.objects.update(migrations_stamp=tenant_migrations_stamp())
    Company.objects.filter(pk__in=[pilot.pk, follower.pk, different.pk]).update(
        migrations_stamp="the previous release")

    output, visited = migrate("--executor=multiprocessing")

    assert visited == {pilot.schema_name, follower.schema_name, different.schema_name}
    assert f"[replay:{follower.schema_name}] done" in output
    assert "1 schema(s) hold other migrations" in output
    template = schema_snapshot("tenant_template")
    expected = rows("tenant_template")
    assert len(expected["permissions"]) == 4
    for company in (pilot, follower, different):
        schema = company.schema_name
        assert not differences(template, schema_snapshot(schema), clone_schema=schema,
                               template_schema="tenant_template", definition_only=True)
        assert rows(schema) == expected
    connection.set_schema_to_public()
    assert set(Company.objects.filter(pk__in=[pilot.pk, follower.pk, different.pk]).values_list(
        "migrations_stamp", flat=True)) == {tenant_migrations_stamp()}
