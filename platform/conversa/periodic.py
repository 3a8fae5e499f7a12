"""Periodic work: every minute, each active company's housekeeping, in bounded batches spread over
the minute.

The minute job does not queue a task per company and sweep (at 10,000 companies and 15 sweeps that
would be 150,000 tasks at the top of each minute, each looking its company up again): it cuts the
companies into batches of `PERIODIC_BATCH_SIZE`, queues one task per batch, and spaces the batches
evenly over `PERIODIC_SPREAD_SECONDS`, so the database and the workers see a steady trickle rather
than a spike. A batch task switches to each company once and runs its sweeps in a row; one
company's failing sweep is logged and the others go on. A batch that could not start within a
minute of its time is dropped: the next minute's run visits the same companies.
"""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import get_tenant_model, schema_context
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

logger = logging.getLogger("conversa.periodic")

# Tenant tasks (taking only `schema_name`) to run every minute for every company.
_EVERY_MINUTE = []

# A batch that waited this long past its time is dropped: the next run covers its companies.
BATCH_EXPIRES_SECONDS = 60


def every_minute(task):
    """Register a tenant task to run each minute in every company that is not cancelled."""
    _EVERY_MINUTE.append(task)
    return task


def _companies():
    # The tenant model by setting (TENANT_MODEL): the kernel sits below the tenants app.
    Company = get_tenant_model()
    return Company.objects.exclude(schema_name="public").exclude(status=Company.Status.CANCELLED)


@db_periodic_task(crontab(minute="*"))
def run_every_minute() -> int:
    """Queue the minute's batches; returns how many companies they cover."""
    size = settings.PERIODIC_BATCH_SIZE
    schemas = list(_companies().order_by("schema_name").values_list("schema_name", flat=True))
    batches = [schemas[start:start + size] for start in range(0, len(schemas), size)]
    step = settings.PERIODIC_SPREAD_SECONDS / len(batches) if batches else 0
    now = timezone.now()
    for n, batch in enumerate(batches):
        if n == 0:
            companies_sweep(batch)
        else:
            # Moments, not delays: Huey reckons a relative expiry again each time it queues the task.
            eta = now + dt.timedelta(seconds=n * step)
            companies_sweep.schedule(args=(batch,), eta=eta,
                                     expires=eta + dt.timedelta(seconds=BATCH_EXPIRES_SECONDS))
    return len(schemas)


@db_task()
def companies_sweep(schemas: list[str]) -> dict:
    """Run every minute sweep in each of these companies still active, one schema switch each."""
    active = set(_companies().filter(schema_name__in=schemas).values_list("schema_name", flat=True))
    failed = 0
    for schema_name in schemas:
        if schema_name not in active:
            continue
        with schema_context(schema_name):
            for sweep in _EVERY_MINUTE:
                # A tenant task's body, already in its schema; a plain callable is called as is.
                run = getattr(sweep, "run_in_schema", sweep)
                try:
                    run(schema_name)
                except Exception:
                    failed += 1
                    logger.exception("minute sweep %s failed in %s", getattr(sweep, "name", run), schema_name)
    return {"companies": len(active), "failed": failed}
