"""Companies on two PostgreSQL servers, served by one process: each company's data on its own server,
the platform's rows on the main one, and no company reaching another's."""

import uuid

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations.outbound import _outbound_quota
from conversa.errors import ValidationFailed
from tenants import databases
from tenants.counts import company_counts_refresh
from tenants.models import Company, MonthlyUsage
from tenants.services import company_create
from tenants.usage import usage_increment
from tests.fixtures.clusters import NAME, query
from tests.fixtures.factories import PASSWORD

# The first test to ask for the second server starts and migrates it (20-50 s on a busy machine).
pytestmark = [pytest.mark.usefixtures("live_db"), pytest.mark.timeout(300), pytest.mark.proof]


def create(slug_prefix: str, *, database: str = DEFAULT_DB_ALIAS, plan: str = "pro") -> Company:
    slug = f"{slug_prefix}-{uuid.uuid4().hex[:10]}"
    company, _ = company_create(
        name=slug.title(), slug=slug, plan_code=plan, admin_email=f"admin@{slug}.example.com",
        admin_password=PASSWORD, database=database,
    )
    return company


def schema_on_main(schema_name: str) -> bool:
    with databases.main_connection().cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def schema_on(cluster, schema_name: str) -> bool:
    return bool(query(cluster, "SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name]))


def signed_in(api, company: Company):
    client = api(company)
    return client.with_token(client.login(f"admin@{company.slug}.example.com")["access"])


def test_a_company_on_each_server_is_served_by_one_process_without_cross_talk(second_cluster, alpha, api):
    near = alpha  # on the main server
    far = create("far", database=second_cluster.alias)

    # Each schema is on its own server only; both company rows are on the main one.
    assert schema_on_main(near.schema_name) and not schema_on(second_cluster, near.schema_name)
    assert schema_on(second_cluster, far.schema_name) and not schema_on_main(far.schema_name)
    assert Company.objects.get(pk=far.pk).database == second_cluster.alias
    assert not query(second_cluster, "SELECT 1 FROM public.tenants_company")

    marker = uuid.uuid4().hex[:8]
    near_name, far_name = f"Nadia Near {marker}", f"Fabio Far {marker}"
    near_api, far_api = signed_in(api, near), signed_in(api, far)
    for client, name, phone in ((near_api, near_name, "+5511990000001"),
                                (far_api, far_name, "+5511990000002")):
        created = client.post("/api/v1/contacts", {"name": name, "phone": phone})
        assert created.status_code == 201, created.content
    assert [c["name"] for c in near_api.get(f"/api/v1/contacts?q={marker}").json()["items"]] == [near_name]
    assert [c["name"] for c in far_api.get(f"/api/v1/contacts?q={marker}").json()["items"]] == [far_name]
    assert [c["name"] for c in far_api.get("/api/v1/contacts").json()["items"]] == [far_name]
    # A token of one company is refused on the other's host (and its users are not there).
    assert api(near, token=far_api.headers["Authorization"][7:]).get("/api/v1/contacts").status_code == 401
    assert api(far, token=near_api.headers["Authorization"][7:]).get("/api/v1/contacts").status_code == 401

    # The far company's rows are on the second server, in its schema, and nowhere on the main one.
    assert query(second_cluster, f'SELECT name FROM "{far.schema_name}".contacts_contact') == [(far_name,)]
    with databases.main_connection().cursor() as cursor:
        cursor.execute(f'SELECT name FROM "{near.schema_name}".contacts_contact WHERE name LIKE %s',
                       [f"%{marker}"])
        assert cursor.fetchall() == [(near_name,)]

    # Work outside a request (a task's schema_context) reaches the same server; the platform's
    # rows stay on the main one meanwhile, and leaving the schema leaves the server.
    with schema_context(far.schema_name):
        assert connection.settings_dict["NAME"] == NAME
        assert list(Contact.objects.values_list("name", flat=True)) == [far_name]
        assert Company.objects.get(schema_name=far.schema_name).pk == far.pk
        usage_increment(schema_name=far.schema_name, counter="outbound_messages")
    assert connection.settings_dict["NAME"] == connections[databases.PLATFORM].settings_dict["NAME"]
    assert MonthlyUsage.objects.get(company_id=far.pk).outbound_messages == 1
    with schema_context(near.schema_name):
        assert not Contact.objects.filter(name=far_name).exists()

    # The platform's readers and checks of a company's figures find them on its server.
    assert company_counts_refresh(company=far).contacts == 1
    MonthlyUsage.objects.filter(company_id=far.pk).update(outbound_messages=far.plan.max_monthly_outbound_messages)
    limit = far.plan.max_monthly_outbound_messages
    with schema_context(far.schema_name), transaction.atomic():
        assert _outbound_quota(1, limit) == (0, limit, limit)  # nothing more may be sent
    # Later tests migrate the second server: one company fewer for them to visit.
    Company.objects.filter(pk=far.pk).delete()


def test_a_refused_provisioning_on_the_second_server_leaves_nothing_there_or_on_the_main_one(
    second_cluster,
):
    slug = f"refused-{uuid.uuid4().hex[:10]}"
    with pytest.raises(ValidationFailed):
        company_create(name="Refused", slug=slug, plan_code="pro", admin_email=f"admin@{slug}.example.com",
                       admin_password="1", database=second_cluster.alias)  # a password refused last
    assert not Company.objects.filter(slug=slug).exists()
    schema = slug.replace("-", "_")
    assert not schema_on(second_cluster, schema) and not schema_on_main(schema)
    assert not query(second_cluster, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'refused%%'")


def test_a_company_on_a_server_this_process_does_not_know_is_refused_not_served_from_public():
    # Without the refusal its search_path would fall back to the main server's public schema.
    stray = Company(schema_name="stray", slug="stray", database="nowhere")
    with pytest.raises(LookupError):
        connection.set_tenant(stray)
    assert connection.schema_name == "public"
