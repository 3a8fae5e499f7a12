"""The minute's housekeeping visits every company in bounded batches spread over the minute."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY

from conversa import periodic
from tenants.models import Company


def test_the_minute_job_queues_bounded_batches_spread_over_the_minute(
    alpha, bravo, make_company, settings, queue_to_redis
):
    settings.PERIODIC_BATCH_SIZE, settings.PERIODIC_SPREAD_SECONDS = 1, 30
    made = make_company()
    cancelled = bravo  # until this test's transaction rolls back
    Company.objects.filter(pk=cancelled.pk).update(status=Company.Status.CANCELLED)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    covered = periodic.run_every_minute.call_local()

    queued = HUEY.pending()  # a task with an eta waits in the queue until a worker schedules it
    first = [task for task in queued if task.eta is None]
    later = sorted((task for task in queued if task.eta is not None), key=lambda task: task.eta)
    batches = [task.args[0] for task in first + later]
    # One task per batch, not one per company and sweep: no tenant task is queued by the minute job.
    assert {task.name for task in queued} == {"companies_sweep"}
    assert covered >= 2 and len(batches) == covered and all(len(batch) == 1 for batch in batches)
    visited = [schema for batch in batches for schema in batch]
    assert len(visited) == len(set(visited)) == covered
    assert {alpha.schema_name, made.schema_name} <= set(visited)
    assert cancelled.schema_name not in visited and "public" not in visited
    # The first batch goes at once, the others evenly over the spread, each dropped if it is late.
    assert len(first) == 1 and len(later) == len(batches) - 1
    offsets = [(task.eta - before).total_seconds() for task in later]
    assert offsets == sorted(offsets) and 0 < offsets[0] and offsets[-1] <= 30 + 1
    assert all(task.expires_resolved - task.eta == dt.timedelta(seconds=60) for task in later)


def test_a_batch_runs_each_sweep_once_in_each_company_and_a_failure_stops_no_other(
    alpha, bravo, db, monkeypatch
):
    ran = []

    def broken(schema_name):
        raise RuntimeError(f"sweep broke in {schema_name}")

    def recorder(schema_name):
        ran.append((schema_name, connection.schema_name))

    monkeypatch.setattr(periodic, "_EVERY_MINUTE", [broken, recorder])

    # One look at the companies for the whole batch (which are still active), none per company.
    with CaptureQueriesContext(connection) as queries:
        # a company purged since the batch was queued is passed over
        outcome = periodic.companies_sweep.call_local([alpha.schema_name, "purged_co", bravo.schema_name])
    assert len([q for q in queries.captured_queries if Company._meta.db_table in q["sql"]]) == 1

    assert ran == [(alpha.schema_name, alpha.schema_name), (bravo.schema_name, bravo.schema_name)]
    assert outcome == {"companies": 2, "failed": 2}


def test_every_registered_sweep_runs_in_a_batch_without_error(alpha, bravo, db):
    autodiscover_modules("tasks")  # as the consumer does: every app's sweeps register themselves
    assert len(periodic._EVERY_MINUTE) >= 14

    outcome = periodic.companies_sweep.call_local([alpha.schema_name, bravo.schema_name])

    assert outcome == {"companies": 2, "failed": 0}
