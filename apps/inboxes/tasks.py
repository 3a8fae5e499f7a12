"""Background work of inboxes: processing stored webhooks, and sweeping up any a queue lost."""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from apps.inboxes.models import WebhookEvent
from apps.inboxes.selectors import provider_for
from conversa.periodic import every_minute
from conversa.redis import get_redis, redis_key
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.webhooks")

MAX_ATTEMPTS = 5
# A drain task handles at most this many events before handing over to a fresh task, so one
# company's burst cannot hold a worker thread indefinitely.
DRAIN_LIMIT = 500


def _locked_pending():
    return (
        WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("inbox")
        .filter(status=WebhookEvent.Status.PENDING)
    )


def _apply(event: WebhookEvent) -> str:
    """Parse and apply a locked event in a savepoint; a failure is recorded on the event."""
    from apps.conversations.inbound import message_apply_status, message_receive

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


def process_event(event_id: int) -> str:
    """Turn one stored webhook into messages and statuses; safe to run twice."""
    with transaction.atomic():
        event = _locked_pending().filter(pk=event_id).first()
        if event is None:
            return "skipped"
        return _apply(event)


def process_next_fresh_event() -> str | None:
    """Process the oldest pending event never tried yet (None if there is none free).

    Events that failed before are left to the sweep, which spaces out their attempts. One
    transaction per event: holding one customer's locks while taking another's could deadlock
    two drains.
    """
    with transaction.atomic():
        # The order of the (status, received_at) index: no sort of the whole backlog per event.
        event = _locked_pending().filter(attempts=0).order_by("received_at").first()
        if event is None:
            return None
        return _apply(event)


def drain_flag_key(schema_name: str) -> str:
    return redis_key("webhook-drain", schema_name)


@tenant_task(retries=3, retry_delay=2)
def webhook_event_process(schema_name: str, event_id: int) -> str:
    return process_event(event_id)


@tenant_task(retries=3, retry_delay=2)
def webhook_events_drain(schema_name: str) -> int:
    """Process the company's new webhook events until none is left; returns how many.

    Queued by `webhook_receive` only while no drain is queued (a Redis flag), so a burst of
    webhooks costs a few tasks, not one each. The flag is cleared before the first read: an event
    committed later either is seen here or queues a new drain.
    """
    get_redis().delete(drain_flag_key(schema_name))
    done = 0
    while done < DRAIN_LIMIT and process_next_fresh_event() is not None:
        done += 1
    if done == DRAIN_LIMIT:
        webhook_events_drain(schema_name)
    return done


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
