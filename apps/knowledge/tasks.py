"""Periodic work of the knowledge base: help-centre views counted in Redis, added to the articles."""

from apps.knowledge.counters import views_flush
from conversa.periodic import every_minute
from conversa.tasks import tenant_task


@every_minute
@tenant_task()
def help_views_flush(schema_name: str) -> int:
    return views_flush()
