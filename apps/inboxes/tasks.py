"""Background work of inboxes: processing stored webhooks, and sweeping up any a queue lost."""

import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import LockError

from apps.inboxes.models import WebhookEvent
from apps.inboxes.providers.base import Provider, WebhookBatch
from apps.inboxes.selectors import provider_for
from conversa.events import delivered_together
from conversa.periodic import every_minute
from conversa.redis import get_redis, redis_key
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.webhooks")

MAX_ATTEMPTS = 5
# A drain task handles at most this many events before handing over to a fresh task, so one
# company's burst cannot hold a worker thread indefinitely.
DRAIN_LIMIT = 2000
# Events a drain takes per transaction. Their customers' messages are stored together in a few
# statements; a bigger batch saves little more and holds its contacts' locks longer.
BATCH_SIZE = 100
# How long a batch waits for a row someone else holds (an agent's save, an import) before its
# event is set aside for the sweep's retry: the company's other messages must not wait longer.
ROW_LOCK_WAIT_MS = 2000


def _locked_pending():
    return (
        WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("inbox")
        .filter(status=WebhookEvent.Status.PENDING)
    )


def _parse(event: WebhookEvent, provider: Provider | None = None) -> WebhookBatch:
    provider = provider or provider_for(event.inbox)
    return provider.parse_webhook(body=bytes(event.body), content_type=event.content_type)


def _apply(event: WebhookEvent, batch: WebhookBatch | None = None) -> str:
    """Parse (unless given its batch) and apply a locked event in a savepoint; a failure is
    recorded on the event."""
    from apps.conversations.inbound import message_apply_status, message_receive

    event.attempts += 1
    try:
        with transaction.atomic():
            if batch is None:
                batch = _parse(event)
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


def process_fresh_events(limit: int = BATCH_SIZE) -> int:
    """Process up to `limit` of the oldest pending events never tried yet, in one transaction;
    returns how many it took (0: none is free).

    The customers' messages they carry are stored together (`inbound_bulk.messages_receive`), and
    so are delivery statuses (`inbound_bulk.statuses_apply`). Events carrying both, events that do
    not parse and, should applying a group together fail (a concurrent writer took a new phone
    first, a deadlock), all that group's events are applied one by one in savepoints, each failure
    recorded on its event. Their realtime frames go out together after the commit.
    """
    with delivered_together(), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{ROW_LOCK_WAIT_MS}ms"])
        events = list(_locked_pending().filter(attempts=0).order_by("received_at")[:limit])
        received, receipts, alone = [], [], []
        providers = {}  # decrypting an inbox's credentials once per batch, not once per event
        for event in events:
            try:
                if event.inbox_id not in providers:
                    providers[event.inbox_id] = provider_for(event.inbox)
                batch = _parse(event, providers[event.inbox_id])
            except Exception:
                alone.append((event, None))  # `_apply` records why
                continue
            if batch.messages and batch.statuses:
                alone.append((event, batch))
            elif batch.messages:
                received.append((event, batch))
            else:
                receipts.append((event, batch))  # statuses only, or nothing we use
        for together, store in ((received, _receive), (receipts, _apply_statuses)):
            if together and not _apply_together(together, store):
                alone += together
        for event, batch in alone:
            _apply(event, batch)
    return len(events)


def _apply_together(parsed: list[tuple[WebhookEvent, WebhookBatch]], store) -> bool:
    try:
        with transaction.atomic():
            store(parsed)
            WebhookEvent.objects.filter(pk__in=[event.pk for event, _ in parsed]).update(
                status=WebhookEvent.Status.PROCESSED,
                processed_at=timezone.now(),
                error="",
                attempts=F("attempts") + 1,
            )
    except Exception:
        logger.warning("%d webhook events could not be applied together; one by one instead", len(parsed),
                       exc_info=True)
        return False
    return True


def _receive(parsed: list[tuple[WebhookEvent, WebhookBatch]]) -> None:
    from apps.conversations.inbound_bulk import messages_receive

    messages_receive([(event.inbox, inbound) for event, batch in parsed for inbound in batch.messages])


def _apply_statuses(parsed: list[tuple[WebhookEvent, WebhookBatch]]) -> None:
    from apps.conversations.inbound_bulk import statuses_apply

    statuses_apply([
        (event.inbox, update, update.send_key or event.send_key)
        for event, batch in parsed for update in batch.statuses
    ])


def drain_flag_key(schema_name: str) -> str:
    return redis_key("webhook-drain", schema_name)


def drain_lock_key(schema_name: str) -> str:
    return redis_key("webhook-drain-running", schema_name)


# A drain holds the company's lock while it works; should its worker die, the lock frees itself
# after this and the next drain (or the sweep) takes the events over.
DRAIN_LOCK_SECONDS = 60


@tenant_task(retries=3, retry_delay=2)
def webhook_event_process(schema_name: str, event_id: int) -> str:
    return process_event(event_id)


@tenant_task(retries=3, retry_delay=2)
def webhook_events_drain(schema_name: str) -> int:
    """Process the company's new webhook events until none is left; returns how many.

    One drain per company works at a time (a Redis lock), so batches are stored in the order they
    arrived and a burst takes one worker thread, not all of them. While one is queued or working,
    the flag set by `webhook_receive` stays up, so a burst of webhooks queues no other task.

    The working drain drops the flag and the lock, then looks for new events again: an event
    committed before that look is seen by it, and one committed after finds the flag down and
    queues a drain, which gets the lock (or the drain holding it makes that look after it).
    """
    redis = get_redis()
    lock = redis.lock(drain_lock_key(schema_name), timeout=DRAIN_LOCK_SECONDS)
    done = 0
    while lock.acquire(blocking=False):
        try:
            while done < DRAIN_LIMIT and (taken := process_fresh_events()):
                done += taken
        finally:
            redis.delete(drain_flag_key(schema_name))
            _release(lock)
        if done >= DRAIN_LIMIT:
            webhook_events_drain(schema_name)  # the rest in a fresh task
            break
        if not _fresh_event_free():
            break
    return done


def _fresh_event_free() -> bool:
    """Whether a new event awaits that no transaction holds (the sweep may be retrying one)."""
    with transaction.atomic():
        return _locked_pending().filter(attempts=0).values_list("pk", flat=True).first() is not None


def _release(lock) -> None:
    try:
        lock.release()
    except LockError:
        # Held past DRAIN_LOCK_SECONDS and taken over: the events are locked row by row anyway.
        logger.warning("a webhook drain held its lock past %s s", DRAIN_LOCK_SECONDS)


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
