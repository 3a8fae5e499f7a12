"""Periodic work: every minute, each active company's housekeeping tasks are queued in its schema."""

from django_tenants.utils import get_tenant_model
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

# Tenant tasks (taking only `schema_name`) to run every minute for every company.
_EVERY_MINUTE = []


def every_minute(task):
    """Register a tenant task to run each minute in every company that is not cancelled."""
    _EVERY_MINUTE.append(task)
    return task


@db_periodic_task(crontab(minute="*"))
def run_every_minute() -> int:
    # The tenant model by setting (TENANT_MODEL): the kernel sits below the tenants app.
    Company = get_tenant_model()
    schemas = list(
        Company.objects.exclude(schema_name="public")
        .exclude(status=Company.Status.CANCELLED)
        .values_list("schema_name", flat=True)
    )
    for schema_name in schemas:
        for task in _EVERY_MINUTE:
            task(schema_name)
    return len(schemas)
