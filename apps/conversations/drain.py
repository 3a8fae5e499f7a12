"""The webhook drain: conversations reads the events inboxes stored and applies them.

apps.inboxes.intake stores each provider webhook and announces `WEBHOOKS_STORED` once per idle
period of a company (its "a drain is queued or working" flag); `queue_drain_when_stored` listens
and queues `webhook_events_drain`, which turns the company's new events into messages and statuses
in batches. Recovery: the drain's lease (a Redis lock and the flag) lasts a few seconds and is
renewed while it works, so a worker killed mid-drain blocks nobody for longer than that; each
worker process watches Redis and, when it starts and whenever Redis comes back empty (restarted:
queue, flags and leases gone), queues a drain for every company with events waiting. The minute
sweep retries events that failed.
"""

import datetime as dt
import logging
import threading
import time

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from redis.exceptions import LockError, RedisError

from apps.conversations.inbound import message_apply_status, message_receive
from apps.conversations.inbound_bulk import messages_receive, statuses_apply
from apps.inboxes.intake import DRAIN_LEASE_SECONDS, WEBHOOKS_STORED, drain_flag_key
from apps.inboxes.models import WebhookEvent
from apps.inboxes.providers.base import Provider, WebhookBatch
from apps.inboxes.selectors import provider_for
from conversa import metrics
from conversa.events import Event, delivered_together, subscribe
from conversa.periodic import every_minute
from conversa.redis import get_redis, redis_key
from conversa.tasks import tenant_task
from tenants.models import Company

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
# The working drain renews its lease this often (a few times per lease).
LEASE_RENEW_SECONDS = DRAIN_LEASE_SECONDS / 4
# How often each worker process asks Redis whether it restarted.
REDIS_WATCH_SECONDS = 1.0
# Companies whose new events the recovery looks for in one statement.
RECOVERY_SCHEMAS_PER_QUERY = 200


@subscribe
def queue_drain_when_stored(event: Event) -> None:
    if event.name == WEBHOOKS_STORED:
        webhook_events_drain(event.schema_name)


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
        outcome = _apply(event)
        _observe_lag([event])
        return outcome


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
        _observe_lag(events)
    return len(events)


def _observe_lag(events: list[WebhookEvent]) -> None:
    """How long the events waited between storage and this drain (recorded once it committed)."""
    if not events:
        return
    now = timezone.now()
    lags = [(now - event.received_at).total_seconds() for event in events]

    def record():
        for lag in lags:
            metrics.observe(metrics.WEBHOOK_DRAIN_LAG, max(lag, 0.0))

    transaction.on_commit(record)


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
    messages_receive([(event.inbox, inbound) for event, batch in parsed for inbound in batch.messages])


def _apply_statuses(parsed: list[tuple[WebhookEvent, WebhookBatch]]) -> None:
    statuses_apply([
        (event.inbox, update, update.send_key or event.send_key)
        for event, batch in parsed for update in batch.statuses
    ])


def drain_lock_key(schema_name: str) -> str:
    return redis_key("webhook-drain-running", schema_name)


class Lease:
    """The company's drain lock and "queued or working" flag, held for DRAIN_LEASE_SECONDS at a
    time and renewed by a thread while the drain works: should its worker die, both are gone a few
    seconds later and the next webhook (or the recovery) starts a new drain."""

    def __init__(self, redis, schema_name: str):
        self.redis, self.flag = redis, drain_flag_key(schema_name)
        # Not thread-local: the renewing thread extends the token the drain's thread acquired.
        self.lock = redis.lock(drain_lock_key(schema_name), timeout=DRAIN_LEASE_SECONDS, thread_local=False)
        self._stop = threading.Event()
        self._renewer = None

    def acquire(self) -> bool:
        if not self.lock.acquire(blocking=False):
            return False
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="webhook-drain-lease", daemon=True)
        self._renewer.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEW_SECONDS):
            try:
                self.lock.reacquire()
                self.redis.set(self.flag, "draining", ex=DRAIN_LEASE_SECONDS)
            except LockError:
                # Lost (Redis restarted, or held past the lease): another drain may work alongside;
                # events are locked row by row, so none is processed twice.
                logger.warning("a webhook drain lost its lease")
                return
            except RedisError:
                logger.warning("could not renew a webhook drain's lease", exc_info=True)

    def release(self) -> None:
        """Drop the flag, then the lock (see webhook_events_drain for why in this order)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.redis.delete(self.flag)
        finally:
            try:
                self.lock.release()
            except LockError:
                logger.warning("a webhook drain's lease had expired when it let go")


@tenant_task(retries=3, retry_delay=2)
def webhook_event_process(schema_name: str, event_id: int) -> str:
    return process_event(event_id)


@tenant_task(retries=3, retry_delay=2, urgent=True)
def webhook_events_drain(schema_name: str) -> int:
    """Process the company's new webhook events until none is left; returns how many.

    One drain per company works at a time (its lease), so batches are stored in the order they
    arrived and a burst takes one worker thread, not all of them. While one is queued or working,
    the flag set by the intake stays up, so a burst of webhooks queues no other task.

    The working drain drops the flag and the lock, then looks for new events again: an event
    committed before that look is seen by it, and one committed after finds the flag down and
    queues a drain, which gets the lock (or the drain holding it makes that look after it). A
    drain that finds the lock taken leaves at once, but looks again once the lease could have
    expired: its holder may have died with its worker.
    """
    redis = get_redis()
    lease = Lease(redis, schema_name)
    done = 0
    if not lease.acquire():
        _look_again_after_the_lease(redis, schema_name)
        return done
    while True:
        try:
            while done < DRAIN_LIMIT:
                taken = process_fresh_events()
                done += taken
                if taken < BATCH_SIZE:
                    # None was left as this batch was taken: what came meanwhile is the look below's,
                    # a transaction fewer per cycle for a company whose messages come one at a time.
                    break
        finally:
            lease.release()
        if done >= DRAIN_LIMIT:
            webhook_events_drain(schema_name)  # the rest in a fresh task
            break
        if not _fresh_event_free() or not lease.acquire():
            break
    return done


def _look_again_after_the_lease(redis, schema_name: str) -> None:
    if HUEY.immediate:
        return  # inline, there is no other worker to have died
    remaining = redis.pttl(drain_lock_key(schema_name))
    if remaining > 0:
        webhook_events_drain.schedule((schema_name,), delay=remaining / 1000 + 0.2)


def _fresh_event_free() -> bool:
    """Whether a new event awaits that no transaction holds (the sweep may be retrying one)."""
    with transaction.atomic():
        return _locked_pending().filter(attempts=0).values_list("pk", flat=True).first() is not None


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


# --- recovery: a worker's start, Redis coming back ------------------------------------------------

def drains_recover() -> list[str]:
    """Queue a drain for every company with new events waiting; returns their schemas.

    Run when nothing in Redis can be trusted to remember them: a worker starting (the one before it
    may have died mid-drain) and Redis back after a restart (queue, flags and leases gone, and
    webhooks stored meanwhile could not queue anything).
    """
    schemas = list(Company.objects.exclude(schema_name="public").exclude(
        status=Company.Status.CANCELLED).values_list("schema_name", flat=True))
    waiting = []
    for start in range(0, len(schemas), RECOVERY_SCHEMAS_PER_QUERY):
        waiting += _with_new_events(schemas[start:start + RECOVERY_SCHEMAS_PER_QUERY])
    for schema_name in waiting:
        webhook_events_drain(schema_name)  # one finding a dead drain's lease looks again after it
    return waiting


def _with_new_events(schemas: list[str]) -> list[str]:
    """Which of `schemas` have a new event waiting, in one statement: the worker's other threads
    (pacing sends to the provider) must not wait on a switch of schema and a query per company."""
    table, quote = WebhookEvent._meta.db_table, connection.ops.quote_name
    probes = [
        f"(SELECT %s FROM {quote(schema)}.{quote(table)} WHERE status = %s AND attempts = 0 LIMIT 1)"
        for schema in schemas
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(probes),
                       [value for schema in schemas for value in (schema, WebhookEvent.Status.PENDING)])
        return [row[0] for row in cursor.fetchall()]


class RedisWatch:
    """One thread per worker process: `drains_recover` when it starts and each time Redis comes
    back as a new server (its run_id changes on every restart)."""

    def __init__(self):
        self.run_id = None

    def check(self) -> bool:
        """One look; true when it ran the recovery."""
        try:
            run_id = get_redis().info("server")["run_id"]
        except RedisError:
            return False
        if run_id == self.run_id:
            return False
        try:
            waiting = drains_recover()
        except Exception:
            logger.exception("webhook drain recovery failed; trying again")
            return False
        if self.run_id is not None or waiting:
            logger.warning("Redis %s: queued drains for %d companies with webhooks waiting",
                           "restarted" if self.run_id else "seen", len(waiting))
        self.run_id = run_id
        return True

    def run(self) -> None:
        while True:
            self.check()
            connection.close()  # this thread's, if the check used one: back to the pool
            time.sleep(REDIS_WATCH_SECONDS)


_watch_started = threading.Lock()
_watching = False


@HUEY.on_startup()
def watch_redis() -> None:
    """Runs in every worker thread of a consumer as it starts: the first starts the watch."""
    global _watching
    with _watch_started:
        if _watching:
            return
        _watching = True
    threading.Thread(target=RedisWatch().run, name="webhook-drain-redis-watch", daemon=True).start()
