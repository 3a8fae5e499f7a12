"""Background work of conversations: delivering replies, recovering deliveries, scheduled sends."""

import logging

from django.db import transaction
from django.utils import timezone

from apps.conversations import outbound
from apps.conversations.models import ScheduledMessage
from conversa.errors import DomainError
from conversa.events import delivered_together
from conversa.periodic import every_minute
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.outbound")


@tenant_task()
def message_deliver(schema_name: str, message_id: int) -> str:
    # No Huey-level retries: the delivery reschedules itself with the provider's backoff.
    return outbound.message_deliver(message_id=message_id)


@tenant_task()
def messages_deliver(schema_name: str, message_ids: list[int]) -> list[str]:
    """Messages written together (a flow's step), sent one after the other in their order: the
    customer reads them as they were written, and their status frames go out together."""
    with delivered_together():
        return [outbound.message_deliver(message_id=message_id) for message_id in message_ids]


@tenant_task(retries=5, retry_delay=10, retry_backoff=2)
def message_media_fetch(schema_name: str, message_id: int) -> str:
    """Download a customer's file from the provider into quarantine; retried while the provider fails."""
    from apps.conversations.inbound import message_attach_inbound_media

    return message_attach_inbound_media(message_id=message_id)


@every_minute
@tenant_task()
def deliveries_recover(schema_name: str) -> dict:
    return outbound.deliveries_recover()


@every_minute
@tenant_task()
def scheduled_messages_send(schema_name: str) -> int:
    """Send the scheduled messages that are due; each one once, whatever the number of workers."""
    sent = 0
    due = ScheduledMessage.objects.filter(
        status=ScheduledMessage.Status.SCHEDULED,
        send_at__lte=timezone.now(),
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            scheduled = (
                ScheduledMessage.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("conversation", "author")
                .filter(pk=pk, status=ScheduledMessage.Status.SCHEDULED)
                .first()
            )
            if scheduled is None:
                continue
            try:
                with transaction.atomic():
                    message = outbound.message_send(
                        conversation=scheduled.conversation,
                        author=scheduled.author,
                        text=scheduled.text,
                        # Checked when it was scheduled; it goes out even if the author has since
                        # handed the conversation over or left.
                        preauthorized=True,
                    )
            except DomainError as exc:
                scheduled.status, scheduled.error = ScheduledMessage.Status.FAILED, exc.message[:500]
            else:
                scheduled.status, scheduled.message = ScheduledMessage.Status.SENT, message
                sent += 1
            scheduled.save(update_fields=["status", "error", "message"])
    return sent
