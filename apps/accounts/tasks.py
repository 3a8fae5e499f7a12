"""Background work of the accounts app."""

from django.utils.dateparse import parse_datetime

from apps.accounts.models import ApiKey
from apps.accounts.reset_tokens import password_reset_email
from conversa.tasks import tenant_task


@tenant_task(retries=3, retry_delay=5)
def api_key_touch(schema_name: str, key_id: int, used_at: str) -> None:
    """Move the key's `last_used_at` forward (never back: tasks may run out of order)."""
    moment = parse_datetime(used_at)
    ApiKey.objects.filter(pk=key_id).exclude(last_used_at__gte=moment).update(last_used_at=moment)


@tenant_task(retries=3, retry_delay=10)
def password_reset_send(schema_name: str, email: str, base_url: str) -> None:
    """Look the address up and email a reset link if it is an active user's (else nothing)."""
    password_reset_email(email=email, base_url=base_url)
