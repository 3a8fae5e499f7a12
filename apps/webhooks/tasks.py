"""Huey tasks of outbound webhooks: draining one endpoint's queue, and the minute sweep."""

from apps.webhooks.delivery import deliveries_sweep, endpoint_drain
from apps.webhooks.in_use import webhooks_in_use
from conversa.periodic import every_minute
from conversa.tasks import tenant_task


@tenant_task()
def webhook_drain(schema_name: str, endpoint_id: int) -> int:
    """Send the endpoint's due deliveries while holding its lease (`apps.webhooks.delivery`)."""
    return endpoint_drain(endpoint_id=endpoint_id)


@every_minute
@tenant_task()
def webhooks_sweep(schema_name: str) -> int:
    """Hand back interrupted attempts and wake endpoints whose work is due (a lost task's). A
    company without endpoints has no deliveries either (they go with their endpoint): no query."""
    if not webhooks_in_use(schema_name):
        return 0
    return deliveries_sweep()
