"""Huey tasks of campaigns: the sender, the start of scheduled campaigns, and their recovery."""

import logging
import threading

from django.db import connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from apps.campaigns.models import Campaign
from apps.campaigns.sender import campaign_send_run
from apps.campaigns.services import campaign_start_if_due
from conversa.periodic import every_minute
from conversa.tasks import tenant_task
from tenants.models import Company

logger = logging.getLogger("conversa.campaigns")


@tenant_task()
def campaign_send(schema_name: str, campaign_id: int, look_again: bool = True) -> str:
    """Send the campaign while it runs. Finding another sender at work, it looks once more when
    that one's lease could have expired (`look_again`), since its worker may have died."""
    return campaign_send_run(schema_name=schema_name, campaign_id=campaign_id, look_again=look_again)


@tenant_task()
def campaign_start_due(schema_name: str, campaign_id: int) -> bool:
    """At a scheduled campaign's time (an eta task); the minute sweep catches a lost one."""
    return campaign_start_if_due(campaign_id=campaign_id)


@every_minute
@tenant_task()
def campaigns_sweep(schema_name: str) -> dict:
    """Start scheduled campaigns that are due and wake the sender of every running campaign (one
    whose worker died; a sender already working leaves at once)."""
    started = 0
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=timezone.now())
    for campaign_id in due.values_list("pk", flat=True):
        started += campaign_start_if_due(campaign_id=campaign_id)
    running = list(Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True))
    for campaign_id in running:
        campaign_send(schema_name, campaign_id)
    return {"started": started, "woken": len(running)}


RECOVERY_SCHEMAS_PER_QUERY = 200


def campaigns_recover() -> list[tuple[str, int]]:
    """Queue a sender for every running campaign of every company: run when a worker process
    starts, since the worker before it may have died in the middle of sending. One statement per
    RECOVERY_SCHEMAS_PER_QUERY companies, not a query (and a schema switch) per company."""
    schemas = list(Company.objects.exclude(schema_name="public").exclude(
        status=Company.Status.CANCELLED).values_list("schema_name", flat=True))
    quote, table = connection.ops.quote_name, Campaign._meta.db_table
    found = []
    for start in range(0, len(schemas), RECOVERY_SCHEMAS_PER_QUERY):
        chunk = schemas[start:start + RECOVERY_SCHEMAS_PER_QUERY]
        probes = [f"(SELECT %s, id FROM {quote(schema)}.{quote(table)} WHERE status = %s)"
                  for schema in chunk]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(probes),
                           [value for schema in chunk for value in (schema, Campaign.Status.RUNNING)])
            found += [(row[0], row[1]) for row in cursor.fetchall()]
    for schema_name, campaign_id in found:
        campaign_send(schema_name, campaign_id)
    return found


_recovered = threading.Lock()
_recovery_done = False


@HUEY.on_startup()
def recover_senders() -> None:
    """Runs in every worker thread as it starts: the first one queues the senders."""
    global _recovery_done
    with _recovered:
        if _recovery_done:
            return
        _recovery_done = True
    try:
        found = campaigns_recover()
    except Exception:
        logger.exception("campaign sender recovery failed; the minute sweep will wake them")
        return
    finally:
        connection.close()
    if found:
        logger.warning("queued senders for %d running campaigns", len(found))
