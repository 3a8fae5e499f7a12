"""Platform-level background work: keeping the pool of ready company schemas full."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from tenants import lifecycle, schema_pool


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


@db_periodic_task(crontab(minute="*/10"))
@lock_task("company-lifecycle")
def company_lifecycle_periodically() -> dict:
    # Bounded batches each run; a backlog (a migration that set many trials) drains over runs.
    return {"warned": lifecycle.trials_warn(), "trials_ended": lifecycle.trials_end(),
            "cancelled": lifecycle.grace_periods_end(), "purged": lifecycle.companies_purge()}
