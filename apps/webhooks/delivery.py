"""Per-endpoint delivery queues: a slow or dead endpoint never delays the others.

Design
------
Every delivery is a row (`Delivery`, stored before anything is sent) in its endpoint's queue: the
`pending` rows of that endpoint ordered by `next_attempt_at`. Nothing but the rows holds the queue,
so it survives restarts and a lost task costs at most a minute (the sweep).

- **One attempt in flight per endpoint.** A Huey task `webhook_drain(schema, endpoint)` first claims
  the endpoint's lease with one conditional UPDATE (`lease_until` lapsed or empty → a fresh token).
  A task that loses the race returns at once: the holder will reach its rows. So however many
  events arrive for one endpoint, it occupies at most one worker, and only while an attempt is in
  flight (at most `WEBHOOK_TIMEOUT_SECONDS`).
- **A drain sends due rows one after the other**, each claimed by one UPDATE over a `SELECT … FOR
  UPDATE SKIP LOCKED` that moves it `pending → sending` (attempt counted) before the request, and
  settled after it (`succeeded`, `pending` for a retry, or `failed`) by an UPDATE that only matches
  the row still `sending` with that attempt's number: a duplicate or retried task can never record
  a second success for one delivery. The drain gives the worker back after
  `DRAIN_BUDGET_SECONDS` and queues itself again, so a busy healthy endpoint takes turns with the
  others instead of keeping a worker.
- **A failed attempt pauses the whole endpoint** (`retry_at` = that delivery's backoff: 80 s, ×3
  each attempt, 8 attempts ≈ 24 h): the drain stops and the worker is free. A dead endpoint thus
  costs one attempt (one worker for at most the timeout) per backoff step, however many events wait
  for it, and its backoff is a timestamp, not a sleeping worker. When the pause ends a task
  scheduled for that moment (deduplicated in Redis) wakes the queue; the minute sweep
  (`deliveries_sweep`) is the safety net for a lost task or a worker that died mid-attempt (its
  `sending` row's claim lapses and it goes back to `pending`, the attempt counted).
- **Failing and slow endpoints share a few places.** An endpoint that never succeeded yet, failed
  since its last success, or whose last attempt took `WEBHOOK_SLOW_SECONDS` or more is *suspect*;
  an attempt to a suspect endpoint first takes one of `WEBHOOK_SUSPECT_WORKERS` places (a Redis
  sorted set of leases, shared by every worker and company). Without a place the drain leaves at
  once and the endpoint is looked at again a few seconds later. So however many endpoints are dead
  or slow, they hold at most that many workers at a time, and every other worker keeps serving
  healthy endpoints.
- After `WEBHOOK_DISABLE_AFTER_FAILURES` failed attempts in a row the endpoint is disabled, its
  admins are notified in their language and the audit log says why. A disabled endpoint gets no
  new deliveries; those already stored wait, and re-enabling the endpoint sends them.

A receiver may still see a delivery twice when a worker dies after the receiver answered and
before the outcome was stored: `X-Conversa-Delivery` is the key to deduplicate on.
"""

import datetime as dt
import json
import logging
import time
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.notifications.services import notify
from apps.webhooks import http
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.signing import signature
from conversa.crypto import decrypt_text
from conversa.redis import get_redis, redis_key

logger = logging.getLogger("conversa.webhooks")

DRAIN_BUDGET_SECONDS = 20
# A suspect endpoint that found no free place is looked at again this much later.
SUSPECT_WAIT_SECONDS = 2
EXCERPT_CHARS = 2000


def lease_seconds() -> float:
    # One attempt plus its bookkeeping; each success renews it.
    return settings.WEBHOOK_TIMEOUT_SECONDS + 20


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: base, ×3 each time."""
    return dt.timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 3 ** max(0, attempts - 1))


# --- the endpoint's lease --------------------------------------------------------------------------

def _claim(endpoint_id: int, token: uuid.UUID) -> bool:
    now = timezone.now()
    return Endpoint.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=endpoint_id, active=True,
    ).update(lease_until=now + dt.timedelta(seconds=lease_seconds()), lease_token=token) == 1


def _release(endpoint_id: int, token: uuid.UUID) -> None:
    Endpoint.objects.filter(pk=endpoint_id, lease_token=token).update(lease_until=None, lease_token=None)


# --- places for suspect endpoints ------------------------------------------------------------------

_TAKE_PLACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
    return 1
end
return 0
"""


def _places_key() -> str:
    return redis_key("webhooks", "suspect-places")


def is_suspect(endpoint: Endpoint) -> bool:
    """Not known to answer well: never succeeded yet (a new endpoint may be dead too), failed
    since its last success (also once enabled again), or slow the last time."""
    if endpoint.last_success_at is None:
        return True
    if endpoint.last_failure_at is not None and endpoint.last_failure_at > endpoint.last_success_at:
        return True
    return (endpoint.last_duration_ms or 0) >= settings.WEBHOOK_SLOW_SECONDS * 1000


def _take_place(token: uuid.UUID) -> bool:
    return bool(get_redis().eval(_TAKE_PLACE, 1, _places_key(), str(token),
                                 max(1, settings.WEBHOOK_SUSPECT_WORKERS), int(lease_seconds() * 1000)))


def _leave_place(token: uuid.UUID) -> None:
    get_redis().zrem(_places_key(), str(token))


# --- one attempt -----------------------------------------------------------------------------------

def _take_next(endpoint_id: int) -> Delivery | None:
    """Claim the endpoint's next due delivery (`pending → sending`, attempt counted), or None.

    One statement: the row is picked with SKIP LOCKED and changed in the same UPDATE, so two
    claimers can never hold one row and a claim costs a single round trip.
    """
    now = timezone.now()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    claimed = list(Delivery.objects.raw(
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, last_attempt_at = %s, "
        f"claimed_until = %s WHERE id = (SELECT id FROM {table} WHERE endpoint_id = %s AND status = %s "
        f"AND next_attempt_at <= %s ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        f"RETURNING *",
        [Delivery.Status.SENDING, now, now + dt.timedelta(seconds=lease_seconds()), endpoint_id,
         Delivery.Status.PENDING, now],
    ))
    return claimed[0] if claimed else None


def _mark_sending(delivery: Delivery, now) -> None:
    delivery.status = Delivery.Status.SENDING
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.claimed_until = now + dt.timedelta(seconds=lease_seconds())
    delivery.save(update_fields=["status", "attempts", "last_attempt_at", "claimed_until"])


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _send(delivery: Delivery, endpoint: Endpoint) -> tuple[http.Attempt, str]:
    body = body_of(delivery)
    headers = {
        "X-Conversa-Event": delivery.event,
        "X-Conversa-Delivery": str(delivery.key),
        "X-Conversa-Signature": signature(decrypt_text(endpoint.secret_encrypted), int(time.time()), body),
    }
    request = "\n".join([f"POST {endpoint.url}", *(f"{k}: {v}" for k, v in headers.items()), "",
                         body.decode()])
    attempt = http.post(endpoint.url, body, headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    return attempt, request[:EXCERPT_CHARS]


def _record(delivery: Delivery, endpoint: Endpoint, attempt: http.Attempt, request_excerpt: str, *,
            final: bool = False, token: uuid.UUID | None = None,
            count_for_endpoint: bool = True) -> Delivery | None:
    """Store the outcome of the attempt `delivery` holds; None if the row is no longer that
    attempt's (a sweep handed it back after a lapsed claim, and another attempt may own it now).
    A success also renews the lease `token` holds on the endpoint."""
    now = timezone.now()
    outcome = {
        "response_code": attempt.status, "response_excerpt": attempt.body_excerpt[:EXCERPT_CHARS],
        "request_excerpt": request_excerpt, "duration_ms": attempt.duration_ms,
        "error": attempt.error or ("" if attempt.ok else f"HTTP {attempt.status}"),
        "claimed_until": None,
    }
    if attempt.ok:
        outcome.update(status=Delivery.Status.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif final or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        outcome.update(status=Delivery.Status.FAILED, next_attempt_at=None)
    else:
        outcome.update(status=Delivery.Status.PENDING, next_attempt_at=now + backoff(delivery.attempts))
    with transaction.atomic():
        # Only the attempt that claimed the row may settle it: exactly one success per delivery.
        if not Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING,
                                       attempts=delivery.attempts).update(**outcome):
            return None
        for field, value in outcome.items():
            setattr(delivery, field, value)
        if count_for_endpoint:
            _endpoint_outcome(endpoint.pk, delivery, now, token)
    return delivery


def _endpoint_outcome(endpoint_id: int, delivery: Delivery, now, token: uuid.UUID | None) -> None:
    if delivery.status == Delivery.Status.SUCCEEDED:
        healthy = {"consecutive_failures": 0, "retry_at": None, "last_success_at": now,
                   "last_duration_ms": delivery.duration_ms}
        lease = dt.timedelta(seconds=lease_seconds())
        if not Endpoint.objects.filter(pk=endpoint_id, lease_token=token).update(
                lease_until=now + lease, **healthy):
            Endpoint.objects.filter(pk=endpoint_id).update(**healthy)
        return
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.consecutive_failures += 1
    endpoint.last_failure_at = now
    endpoint.retry_at = delivery.next_attempt_at or now + backoff(delivery.attempts)
    endpoint.last_duration_ms = delivery.duration_ms
    endpoint.save(update_fields=["consecutive_failures", "last_failure_at", "retry_at", "last_duration_ms"])
    if endpoint.active and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        _disable(endpoint, now)


def _disable(endpoint: Endpoint, now) -> None:
    endpoint.active, endpoint.disabled_at = False, now
    endpoint.disabled_reason = f"{endpoint.consecutive_failures} failed attempts in a row"
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    audit_record(action="webhook.disabled", entity_type="webhook", entity_id=endpoint.pk,
                 changes={"active": [True, False], "consecutive_failures": endpoint.consecutive_failures})
    for admin in User.objects.filter(role=User.Role.ADMIN, is_active=True):
        with translation.override(admin.language or None):
            title = _("Webhook disabled: %(url)s") % {"url": endpoint.url}
            body = _("It failed %(count)d times in a row. Fix the receiver, then enable it again in "
                     "Settings → Webhooks: the deliveries that were waiting are sent then.") % {
                "count": endpoint.consecutive_failures}
        notify(users=[admin], kind="webhook_disabled", title=str(title), body=str(body),
               data={"webhook_id": endpoint.pk})


# --- draining an endpoint's queue ----------------------------------------------------------------------

def endpoint_drain(*, endpoint_id: int) -> int:
    """Send the endpoint's due deliveries, one at a time, while this task holds its lease; the
    number of attempts made. Safe to run any number of times at once (module docstring)."""
    token = uuid.uuid4()
    if not _claim(endpoint_id, token):
        return 0
    attempts = 0
    deadline = time.monotonic() + DRAIN_BUDGET_SECONDS
    try:
        while time.monotonic() < deadline:
            endpoint = Endpoint.objects.filter(pk=endpoint_id, active=True, lease_token=token).first()
            if endpoint is None or (endpoint.retry_at and endpoint.retry_at > timezone.now()):
                break
            suspect = is_suspect(endpoint)
            if suspect and not _take_place(token):
                _wait_for_place(endpoint_id)
                break
            try:
                delivery = _take_next(endpoint_id)
                if delivery is None:
                    break
                attempt, request_excerpt = _send(delivery, endpoint)
            finally:
                if suspect:
                    _leave_place(token)
            attempts += 1
            outcome = _record(delivery, endpoint, attempt, request_excerpt, token=token)
            if outcome is None or outcome.status != Delivery.Status.SUCCEEDED:
                break
    finally:
        _release(endpoint_id, token)
    # Rows that arrived while the lease was held found it taken: look once more now it is free.
    endpoint_wake(endpoint_id=endpoint_id)
    return attempts


def _wait_for_place(endpoint_id: int) -> None:
    """No place for a suspect endpoint now: its queue is looked at again a little later (a pause,
    like a failure's, so the wake after the release schedules it instead of spinning)."""
    later = timezone.now() + dt.timedelta(seconds=SUSPECT_WAIT_SECONDS)
    Endpoint.objects.filter(Q(retry_at__isnull=True) | Q(retry_at__lt=later), pk=endpoint_id).update(
        retry_at=later)


def endpoint_wake(*, endpoint_id: int) -> None:
    """Queue a drain of the endpoint now if it has due work, or for when it will."""
    from apps.webhooks.tasks import webhook_drain

    endpoint = Endpoint.objects.filter(pk=endpoint_id, active=True).first()
    if endpoint is None:
        return
    due = Delivery.objects.filter(endpoint_id=endpoint_id, status=Delivery.Status.PENDING).aggregate(
        at=Min("next_attempt_at"))["at"]
    if due is None:
        return
    when = max(due, endpoint.retry_at or due)
    schema = connection.schema_name
    now = timezone.now()
    if when <= now:
        webhook_drain(schema, endpoint_id)
        return
    # One scheduled wake per endpoint and moment, however many events arrive during a pause.
    redis, key = get_redis(), redis_key("webhooks", "wake", schema, endpoint_id)
    planned = redis.get(key)
    if planned is not None and now.timestamp() < float(planned) <= when.timestamp():
        return
    redis.set(key, when.timestamp(), ex=int((when - now).total_seconds()) + 120)
    webhook_drain.schedule(args=(schema, endpoint_id), eta=when)


def endpoint_wake_on_commit(endpoint_id: int) -> None:
    """`endpoint_wake` once the current transaction commits, in the schema it was asked in."""
    schema = connection.schema_name

    def wake():
        with schema_context(schema):
            endpoint_wake(endpoint_id=endpoint_id)

    transaction.on_commit(wake)


def deliveries_sweep() -> int:
    """Every minute: hand back attempts whose worker died (their claim lapsed) and wake every
    endpoint with due work that nobody is draining. The number of endpoints woken."""
    now = timezone.now()
    with transaction.atomic():
        stuck = list(Delivery.objects.select_for_update(skip_locked=True).filter(
            status=Delivery.Status.SENDING, claimed_until__lt=now))
        for delivery in stuck:
            # A test send is never retried: it was one attempt, in front of a person.
            spent = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or delivery.next_attempt_at is None
            delivery.status = Delivery.Status.FAILED if spent else Delivery.Status.PENDING
            delivery.next_attempt_at = None if spent else now
            delivery.claimed_until = None
            delivery.error = "the attempt was interrupted"
            delivery.save(update_fields=["status", "next_attempt_at", "claimed_until", "error"])
    due = set(Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now,
        endpoint__active=True,
    ).filter(Q(endpoint__retry_at__isnull=True) | Q(endpoint__retry_at__lte=now)).filter(
        Q(endpoint__lease_until__isnull=True) | Q(endpoint__lease_until__lt=now),
    ).values_list("endpoint_id", flat=True).distinct())
    for endpoint_id in sorted(due):
        endpoint_wake(endpoint_id=endpoint_id)
    _forget_old_deliveries(now)
    return len(due)


RETENTION_BATCH = 5000


def _forget_old_deliveries(now) -> int:
    """Once an hour per company: delete finished deliveries past the retention (a batch at a time,
    so a large backlog never makes one long transaction)."""
    if not get_redis().set(redis_key("webhooks", "retention", connection.schema_name), 1, nx=True, ex=3600):
        return 0
    cutoff = now - dt.timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    old = Delivery.objects.filter(
        status__in=[Delivery.Status.SUCCEEDED, Delivery.Status.FAILED], created_at__lt=cutoff,
    ).values_list("pk", flat=True)[:RETENTION_BATCH]
    deleted, _ = Delivery.objects.filter(pk__in=list(old)).delete()
    return deleted


# --- sending now, for a person -----------------------------------------------------------------------

def delivery_attempt_now(*, delivery: Delivery) -> Delivery:
    """One attempt of a test delivery, in the caller's request: it does not wait in the queue, is
    not retried and does not count toward the endpoint's health."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        _mark_sending(locked, timezone.now())
    attempt, request_excerpt = _send(locked, locked.endpoint)
    return _record(locked, locked.endpoint, attempt, request_excerpt, final=True,
                   count_for_endpoint=False) or locked
