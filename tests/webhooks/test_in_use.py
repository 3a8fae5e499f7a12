"""A company without webhook endpoints pays nothing for outbound webhooks on its events, and an
endpoint, once created, never misses one (a Redis mark per company, `apps.webhooks.in_use`)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.webhooks.in_use import in_use_key, webhooks_in_use
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.services import endpoint_delete
from apps.webhooks.tasks import webhooks_sweep
from conversa.redis import get_redis
from tests.fixtures.contacts import make_contact
from tests.webhooks.conftest import admin_of, make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_mark(alpha, bravo):
    """The companies' marks, forgotten around each test (their endpoints are rolled back)."""
    keys = [in_use_key(alpha.schema_name), in_use_key(bravo.schema_name)]
    get_redis().delete(*keys)
    yield
    get_redis().delete(*keys)


def endpoint_queries(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if Endpoint._meta.db_table in query["sql"]]


def test_events_of_a_company_without_endpoints_cost_no_endpoint_query(
    alpha, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="First")  # the database is asked once, the answer kept

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="Second")

    assert endpoint_queries(queries) == []
    assert get_redis().get(in_use_key(alpha.schema_name)) == b"0"


def test_the_minute_sweep_of_a_company_without_endpoints_costs_no_query(alpha, django_assert_num_queries):
    assert webhooks_in_use(alpha.schema_name) is False

    with schema_context(alpha.schema_name), django_assert_num_queries(0):
        assert webhooks_sweep.run_in_schema(alpha.schema_name) == 0


def test_an_endpoint_created_after_a_no_gets_the_very_next_event(
    alpha, receiver, django_capture_on_commit_callbacks
):
    assert webhooks_in_use(alpha.schema_name) is False
    endpoint, _ = make_endpoint(alpha, receiver.url)  # its commit's callback never runs in this test

    with django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="Seen")

    with schema_context(alpha.schema_name):
        assert [d.payload["data"]["name"] for d in Delivery.objects.filter(endpoint=endpoint)] == ["Seen"]


def test_deleting_the_last_endpoint_lets_the_company_skip_webhooks_again(
    alpha, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = make_endpoint(alpha, receiver.url)
    assert webhooks_in_use(alpha.schema_name) is True

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        endpoint_delete(actor=admin_of(alpha), endpoint=endpoint)

    assert get_redis().get(in_use_key(alpha.schema_name)) is None
    assert webhooks_in_use(alpha.schema_name) is False


def test_one_company_endpoint_says_nothing_about_another(alpha, bravo, receiver):
    make_endpoint(alpha, receiver.url)

    assert webhooks_in_use(bravo.schema_name) is False
    assert webhooks_in_use(alpha.schema_name) is True
    assert get_redis().get(in_use_key(bravo.schema_name)) == b"0"
