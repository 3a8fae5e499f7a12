"""Tenant tasks run by a real Huey consumer write into the schema they are given (acceptance 3)."""


import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from huey.contrib.djhuey import HUEY
from huey.exceptions import TaskException

from apps.accounts.models import ApiKey
from apps.accounts.tasks import api_key_touch
from conversa.tasks import TenantSchemaRequired
from tests.fixtures.factories import make_api_key
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.live]


def keys_with_the_same_id(*companies) -> dict:
    """One key per company, all with the same primary key, so only the schema tells them apart."""
    made = {company.schema_name: make_api_key(company)[0] for company in companies}
    target = max(key.pk for key in made.values())
    for company in companies:
        while made[company.schema_name].pk < target:
            made[company.schema_name] = make_api_key(company)[0]
    return made


def last_used(schema_name: str, key_id: int):
    with schema_context(schema_name):
        return ApiKey.objects.get(pk=key_id).last_used_at


def test_a_task_writes_into_the_schema_it_was_given(live_db, make_live_company, worker):
    first, second = make_live_company(), make_live_company()
    keys = keys_with_the_same_id(first, second)
    key_id = keys[first.schema_name].pk
    assert keys[second.schema_name].pk == key_id
    moment = timezone.now().replace(microsecond=0)

    api_key_touch(first.schema_name, key_id, moment.isoformat())

    assert eventually(lambda: last_used(first.schema_name, key_id) is not None)
    assert last_used(first.schema_name, key_id) == moment
    assert last_used(second.schema_name, key_id) is None


def test_many_tasks_of_several_companies_each_land_in_their_own_schema(live_db, make_live_company, worker):
    companies = [make_live_company() for _ in range(3)]
    keys = keys_with_the_same_id(*companies)
    base = timezone.now().replace(microsecond=0)
    expected = {}
    for n, company in enumerate(companies):
        moment = base + timezone.timedelta(seconds=n + 1)
        expected[company.schema_name] = moment
        for _ in range(5):
            api_key_touch(company.schema_name, keys[company.schema_name].pk, moment.isoformat())

    assert eventually(lambda: all(last_used(s, keys[s].pk) == m for s, m in expected.items()))


@pytest.mark.parametrize("schema", [None, "", "public", "tenant_template", "Robert'); DROP", 42])
def test_queueing_without_a_tenant_schema_fails_loudly(schema, queue_to_redis):
    with pytest.raises(TenantSchemaRequired):
        api_key_touch(schema, 1, timezone.now().isoformat())
    with pytest.raises(TenantSchemaRequired):
        api_key_touch.schedule(args=(schema, 1, timezone.now().isoformat()), delay=1)
    assert len(HUEY) == 0


def test_a_task_smuggled_into_the_queue_for_public_fails_in_the_worker(live_db, worker):
    # bypass the queue-time check, as a stale or hand-crafted message would
    task = api_key_touch.task_class(("public", 1, timezone.now().isoformat()), {})
    result = HUEY.enqueue(task)
    with pytest.raises(TaskException) as failure:
        result.get(blocking=True, timeout=10)
    assert "public" in str(failure.value.metadata.get("error", ""))
