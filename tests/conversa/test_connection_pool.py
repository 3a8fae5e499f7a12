"""Pooled connections never carry a company's search_path into the next checkout."""

import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

from tests.fixtures.contacts import make_contact
from tests.fixtures.live_tenant import Tenant


@pytest.fixture
def one_connection_pool():
    """`make()` gives database wrappers (as two threads have) sharing a pool of a single server
    connection, so every checkout reuses the one the previous checkout handed back."""
    options = {**connection.settings_dict.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 1}}
    settings_dict = {**connection.settings_dict, "OPTIONS": options}
    alias = f"pool-{uuid.uuid4().hex}"
    made = []

    def make() -> DatabaseWrapper:
        made.append(DatabaseWrapper(dict(settings_dict), alias))
        return made[-1]

    yield make
    for wrapper in made:
        wrapper.close()
    made[0].close_pool()


def checkout(wrapper: DatabaseWrapper) -> tuple[int, list[str], str]:
    """One request's worth of work: the backend's pid, the contact names it sees, its search_path.

    The wrapper is closed at the end, which hands the server connection back to the pool."""
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            cursor.execute("SELECT name FROM contacts_contact ORDER BY name")
            names = [row[0] for row in cursor.fetchall()]
            cursor.execute("SHOW search_path")
            path = cursor.fetchone()[0]
        return pid, names, path
    finally:
        wrapper.close()


def test_the_pool_is_on_by_default():
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert settings.TENANT_LIMIT_SET_CALLS


def test_alternating_companies_on_one_pooled_connection_each_see_only_their_data(
    live_db, make_live_company, one_connection_pool
):
    first, second = make_live_company(), make_live_company()
    make_contact(first, name="Only in first")
    make_contact(second, name="Only in second")
    # Two long-lived wrappers (two worker threads), each set to its company once.
    wrappers = {first.schema_name: one_connection_pool(), second.schema_name: one_connection_pool()}
    wrappers[first.schema_name].set_tenant(first)
    wrappers[second.schema_name].set_tenant(second)
    expected = {first.schema_name: ["Only in first"], second.schema_name: ["Only in second"]}

    pids = set()
    for schema_name in itertools.islice(itertools.cycle(wrappers), 10):
        pid, names, path = checkout(wrappers[schema_name])
        pids.add(pid)
        assert names == expected[schema_name]
        assert path.split(",")[0].strip('" ') == schema_name

    # One server connection served all ten checkouts: the pool really reused it.
    assert len(pids) == 1


def test_a_search_path_set_in_a_rolled_back_transaction_is_not_trusted_after_checkout(
    live_db, make_live_company, one_connection_pool
):
    second = make_live_company()
    make_contact(second, name="Second's")
    wrapper = one_connection_pool()
    wrapper.set_tenant(second)
    wrapper.set_autocommit(False)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")  # SET search_path inside the transaction, undone by the rollback
    wrapper.rollback()
    wrapper.set_autocommit(True)

    _, names, _ = checkout(wrapper)

    assert names == ["Second's"]


@pytest.mark.live
def test_a_live_server_answers_alternating_companies_from_its_pool_with_their_own_data(
    asgi_server, make_live_company
):
    tenants = [Tenant(asgi_server, make_live_company()) for _ in range(2)]
    for tenant in tenants:
        make_contact(tenant.company, name=f"Customer of {tenant.company.slug}")

    def names(tenant: Tenant) -> tuple[Tenant, list[str]]:
        response = tenant.api("get", "/contacts")
        assert response.status_code == 200, response.text
        return tenant, [item["name"] for item in response.json()["items"]]

    try:
        sequence = list(itertools.islice(itertools.cycle(tenants), 40))
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(names, sequence))
    finally:
        for tenant in tenants:
            tenant.http.close()

    for tenant, listed in results:
        assert listed == [f"Customer of {tenant.company.slug}"]
