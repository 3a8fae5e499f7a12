"""Periodic work of tasks: reminders, swept every minute in every company."""

from apps.tasks.reminders import reminders_send
from conversa.periodic import every_minute
from conversa.tasks import tenant_task


@every_minute
@tenant_task()
def task_reminders_send(schema_name: str) -> int:
    return reminders_send()
