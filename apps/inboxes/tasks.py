"""Background work of inboxes: processing stored webhooks, and sweeping up any a queue lost."""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from apps.inboxes.models import WebhookEvent
from apps.inboxes.selectors import provider_for
from conversa.periodic import every_minute
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.webhooks")

MAX_ATTEMPTS = 5


def process_event(event_id: int) -> str:
    """Turn one stored webhook into messages and statuses; safe to run twice."""
    from apps.conversations.inbound import message_apply_status, message_receive

    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("inbox")
            .filter(pk=event_id, status=WebhookEvent.Status.PENDING)
            .first()
        )
        if event is None:
            return "skipped"
        event.attempts += 1
        try:
            with transaction.atomic():
                batch = provider_for(event.inbox).parse_webhook(
                    body=bytes(event.body),
                    content_type=event.content_type,
                )
                for inbound in batch.messages:
                    message_receive(inbox=event.inbox, inbound=inbound)
                for update in batch.statuses:
                    message_apply_status(
                        inbox=event.inbox, update=update, send_key=update.send_key or event.send_key
                    )
        except Exception as exc:
            logger.exception("webhook event %s failed (attempt %s)", event.pk, event.attempts)
            event.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if event.attempts >= MAX_ATTEMPTS:
                event.status = WebhookEvent.Status.FAILED
            event.save(update_fields=["attempts", "error", "status"])
            return "failed"
        event.status = WebhookEvent.Status.PROCESSED
        event.processed_at = timezone.now()
        event.error = ""
        event.save(update_fields=["attempts", "error", "status", "processed_at"])
    return "processed"


@tenant_task(retries=3, retry_delay=2)
def webhook_event_process(schema_name: str, event_id: int) -> str:
    return process_event(event_id)


def pending_events(*, older_than: dt.timedelta) -> list[int]:
    cutoff = timezone.now() - older_than
    return list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, received_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:1000]
    )


@every_minute
@tenant_task()
def webhook_events_sweep(schema_name: str) -> int:
    """Queue again the webhooks still pending a while after they arrived (lost task, worker down)."""
    ids = pending_events(older_than=dt.timedelta(seconds=30))
    for event_id in ids:
        webhook_event_process(schema_name, event_id)
    return len(ids)
