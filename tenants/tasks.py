"""Platform-level background work: keeping the pool of ready company schemas full."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from tenants import schema_pool


@db_task()
@lock_task("schema-pool-refill")
def schema_pool_refill() -> int:
    return schema_pool.fill()


@db_periodic_task(crontab(minute="*/5"))
def schema_pool_refill_periodically() -> int:
    # Also after deploys and migrations, which empty the pool of stale schemas.
    return schema_pool_refill.call_local()


@db_periodic_task(crontab(minute="*/5"))
@lock_task("company-counts-refresh")
def company_counts_refresh_periodically() -> int:
    # The console's list reads cached counts; this keeps them at most five minutes old.
    from tenants.counts import company_counts_refresh_all

    return company_counts_refresh_all()
