"""The worker side of automation rules: one task per company and batch of committed events."""

from apps.automation.engine import rules_evaluate
from conversa.tasks import tenant_task


@tenant_task(retries=3, retry_delay=5)
def rules_run(schema_name: str, items: list[dict]) -> int:
    """Evaluate the rules for these events; safe to run again (each rule fires once per event)."""
    return rules_evaluate(items=items)
