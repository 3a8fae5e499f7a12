"""Background work of the accounts app."""

from django.utils.dateparse import parse_datetime

from apps.accounts.models import ApiKey
from conversa.tasks import tenant_task


@tenant_task(retries=3, retry_delay=5)
def api_key_touch(schema_name: str, key_id: int, used_at: str) -> None:
    """Move the key's `last_used_at` forward (never back: tasks may run out of order)."""
    moment = parse_datetime(used_at)
    ApiKey.objects.filter(pk=key_id).exclude(last_used_at__gte=moment).update(last_used_at=moment)
