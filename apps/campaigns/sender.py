"""The campaign sender: delivers a running campaign's recipients exactly once, at the inbox's rate.

Design (SPEC §9; issue 13):

- **One sender per campaign.** `campaign_send` takes the campaign's Redis lock (a lease of
  `SENDER_LEASE` seconds, renewed by a thread while it works). A second task for the same campaign
  leaves at once, and looks again once the lease could have expired (its holder may have died).
- **Fairness.** At most `CAMPAIGN_SENDERS_MAX` (setting, default 2) campaign senders work at once
  across every company and worker process (a Redis semaphore of leases): with the default 4 Huey
  threads per worker, campaigns never take every worker, so replies, webhook drains and scans
  always find one. A sender that finds no free place is queued again a moment later (an eta task,
  not a busy thread). In the rate limiter a campaign's sends are low priority: an agent's reply on
  the same inbox that is refused a slot raises a flag the campaign yields to (see
  `apps.inboxes.send_rate`), so the reply waits about one interval, not behind the backlog.
- **Pacing** at min(campaign rate, inbox rate) through the inbox's shared limiter in Redis, paced
  without slack and bounded by a log of arrival bounds: the provider never sees more than the rate
  in any one-second window, however the network scatters the requests. The price of that bound is
  one request's round trip per second of the rate (a send's arrival is only known to be over once
  its answer is in): about 1 % against the local fake provider, more against a provider far away
  (at 200 ms, a sixth). A fast campaign sends on a few lanes at once (threads of the one sender,
  `SENDS_PER_LANE` each, at most `CAMPAIGN_SEND_LANES_MAX`): one lane does about 200 sends a second.
- **Exactly once.** The first run materialises the recipients (once: `materialize.py`). They are
  claimed in batches of about two seconds of sends (queued, `FOR UPDATE SKIP LOCKED`, a claim
  lease in `claimed_until`; a new sender of the campaign drops a dead one's claims at once). A
  claimed recipient is still `queued`, so one left behind by a dead worker is simply claimed again,
  never having been sent. Before it waits for its slot a recipient becomes `sending` (a conditional
  UPDATE: of two senders only one wins; stopped during the wait, it goes back to `queued`), and its
  request carries its `send_key`. After the answer it becomes `sent` (with the provider's id) or
  `failed` (the error code), or `queued` again with a retry time on a retryable error.
  A recipient left `sending` (the worker died between that UPDATE and the answer) is never sent
  again blindly: the provider's status webhook carrying the key (Meta) or our id (Twilio, in the
  callback URL) settles it (`apps.campaigns.listeners`). The documented rule for one the provider
  says nothing about for `CAMPAIGN_UNSETTLED_GRACE_SECONDS` (default 300): providers acknowledge
  every message they accept with a `sent` status within seconds, so the silence means the request
  never reached them (or never left: the worker died waiting for its slot); it is queued again
  with the same send key, at most `MAX_UNSETTLED` times, after which it is `failed` with
  `delivery_unknown`.
- **Pause, cancel** raise a Redis flag after their commit (`apps.campaigns.control`); the sender
  reads it every `STOP_POLL_SECONDS` (50 ms), between sends and while it waits for a slot, puts
  back what it claimed and stops: the provider sees no send later than the ones in flight then.
  Resume queues a sender again.
- **Monthly outbound limit.** Before each batch the sender takes at most what the plan has left
  this month (the month's counter plus replies queued); none left pauses the campaign
  (`pause_reason` `outbound_limit`) and notifies its creator.
- **Send window.** Outside it the sender queues itself for the window's opening (an eta task) and
  leaves the worker.
- **Progress.** `campaign.progress` every half second while sending (a second at most, at the
  client), from one grouped count.
- **Completion.** When no recipient is queued or sending, the campaign is `completed`.
"""

import datetime as dt
import logging
import math
import threading
import time
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context
from huey.contrib.djhuey import HUEY
from redis.exceptions import LockError, RedisError

from apps.campaigns import control
from apps.campaigns.events import CAMPAIGN_PROGRESS
from apps.campaigns.materialize import recipients_materialize
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.selectors import campaign_message_for
from apps.campaigns.services import campaign_finish, campaign_pause
from apps.campaigns.variables import render
from apps.campaigns.windows import next_opening
from apps.conversations.models import DELIVERY_UNKNOWN, Message
from apps.inboxes.models import Inbox
from apps.inboxes.providers.base import ProviderError
from apps.inboxes.selectors import provider_for, tenant_base_url
from apps.inboxes.send_rate import bulk_slot_done, reserve_bulk_slot
from apps.media.storage import signed_path
from apps.notifications.services import notify
from conversa import metrics
from conversa.errors import ValidationFailed
from conversa.events import publish
from conversa.redis import redis_key
from tenants.models import Company, MonthlyUsage
from tenants.usage import month_start, usage_increment

logger = logging.getLogger("conversa.campaigns")

BATCH = 500
CLAIM_LEASE = dt.timedelta(seconds=60)
SENDER_LEASE = 3.0
LEASE_RENEW_SECONDS = 0.75
MAX_ATTEMPTS = 6
MAX_UNSETTLED = 3
# Twice the rate SPEC §13 asks for: a frame stays under a second apart despite delivery jitter.
PROGRESS_SECONDS = 0.5
SENDS_PER_LANE = 120
STOP_POLL_SECONDS = 0.05
MEDIA_LINK_TTL = 6 * 3600

# Acquire a place among the concurrent senders: KEYS[1] the semaphore (token -> lease end, ms).
_SEMAPHORE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
    return 1
end
return 0
"""


def unsettled_grace() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "CAMPAIGN_UNSETTLED_GRACE_SECONDS", 300))


def send_lanes_max() -> int:
    return max(1, getattr(settings, "CAMPAIGN_SEND_LANES_MAX", 6))


def senders_max() -> int:
    return max(1, getattr(settings, "CAMPAIGN_SENDERS_MAX", 2))


def _semaphore_key() -> str:
    return redis_key("campaign-senders")


def lock_key(schema_name: str, campaign_id: int) -> str:
    return redis_key("campaign-sender", schema_name, campaign_id)


class SenderLease:
    """The campaign's lock and a place among the concurrent senders, renewed while the sender works."""

    def __init__(self, redis, schema_name: str, campaign_id: int):
        self.redis, self.token = redis, uuid.uuid4().hex
        self.lock = redis.lock(lock_key(schema_name, campaign_id), timeout=SENDER_LEASE, thread_local=False)
        self._stop = threading.Event()
        self._renewer = None
        self.lost = False

    def _take_place(self) -> bool:
        return bool(self.redis.eval(_SEMAPHORE, 1, _semaphore_key(), self.token, senders_max(),
                                    int(SENDER_LEASE * 1000)))

    def acquire(self) -> str:
        """"ok", "busy" (another sender has this campaign) or "full" (no place among the senders)."""
        if not self.lock.acquire(blocking=False):
            return "busy"
        if not self._take_place():
            self.lock.release()
            return "full"
        self._renewer = threading.Thread(target=self._renew, name="campaign-sender-lease", daemon=True)
        self._renewer.start()
        return "ok"

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEW_SECONDS):
            try:
                self.lock.reacquire()
                self._take_place()
            except LockError:
                logger.warning("a campaign sender lost its lease")
                self.lost = True
                return
            except RedisError:
                logger.warning("could not renew a campaign sender's lease", exc_info=True)

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.redis.zrem(_semaphore_key(), self.token)
            self.lock.release()
        except (LockError, RedisError):
            logger.warning("a campaign sender's lease had expired when it let go")


# --- the recipients' moves ------------------------------------------------------------------------

# The two writes of every send, as plain statements: the ORM's query building cost more CPU than
# the rest of a send's Python together at a few hundred sends a second.
_TABLE = CampaignRecipient._meta.db_table
_SENDING_SQL = (f"UPDATE {_TABLE} SET status = 'sending', attempts = attempts + 1, claimed_until = %s"
                f" WHERE id = %s AND status = 'queued'")
_SENT_SQL = (f"UPDATE {_TABLE} SET status = 'sent', provider_message_id = %s, sent_at = %s,"
             f" claimed_until = NULL, reason = '', error_message = '' WHERE id = %s AND status = 'sending'")


# The next queued recipients in id order, straight off the (campaign, status, id) index; the
# claim's lease is set in the same statement.
_CLAIM_SQL = f"""
UPDATE {_TABLE} SET claimed_until = %s WHERE id IN (
    SELECT id FROM {_TABLE}
    WHERE campaign_id = %s AND status = 'queued'
      AND (claimed_until IS NULL OR claimed_until < %s) AND (not_before IS NULL OR not_before < %s)
    ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
) RETURNING id
"""


def _claim(campaign_id: int, limit: int) -> list[CampaignRecipient]:
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [now + CLAIM_LEASE, campaign_id, now, now, limit])
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(CampaignRecipient.objects.select_related("contact").filter(pk__in=ids).order_by("id"))


def _take_over(campaign_id: int) -> None:
    """Drop the claims of an earlier sender of this campaign: holding the campaign's lock now, we
    know it is gone, and its claimed recipients are still queued (never sent)."""
    CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status=CampaignRecipient.Status.QUEUED, claimed_until__isnull=False,
    ).update(claimed_until=None)


def _release(recipients: list[CampaignRecipient]) -> None:
    """Put back claimed recipients that were not sent (still queued: nothing to undo but the claim)."""
    if recipients:
        CampaignRecipient.objects.filter(
            pk__in=[r.pk for r in recipients], status=CampaignRecipient.Status.QUEUED,
        ).update(claimed_until=None)


def _mark_sending(recipient: CampaignRecipient) -> bool:
    """queued → sending right before the request; False if another sender took it meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(_SENDING_SQL, [timezone.now() + unsettled_grace(), recipient.pk])
        taken = cursor.rowcount == 1
    if taken:
        recipient.attempts += 1
    return taken


def _unmark_sending(recipient: CampaignRecipient) -> None:
    CampaignRecipient.objects.filter(pk=recipient.pk, status=CampaignRecipient.Status.SENDING).update(
        status=CampaignRecipient.Status.QUEUED, attempts=recipient.attempts - 1, claimed_until=None)


def _mark_sent(recipient: CampaignRecipient, provider_message_id: str) -> None:
    # A status webhook may have come first (settling it): only a recipient still sending moves.
    with connection.cursor() as cursor:
        cursor.execute(_SENT_SQL, [provider_message_id[:200], timezone.now(), recipient.pk])
    metrics.inc(metrics.CAMPAIGN_SENDS, status="sent")


def _mark_failed(recipient: CampaignRecipient, code: str, text: str) -> None:
    CampaignRecipient.objects.filter(pk=recipient.pk, status=CampaignRecipient.Status.SENDING).update(
        status=CampaignRecipient.Status.FAILED, reason=code[:50], error_message=text[:500],
        failed_at=timezone.now(), claimed_until=None,
    )
    metrics.inc(metrics.CAMPAIGN_SENDS, status="failed")


def _mark_retry(recipient: CampaignRecipient, delay: float, error: ProviderError) -> None:
    CampaignRecipient.objects.filter(pk=recipient.pk, status=CampaignRecipient.Status.SENDING).update(
        status=CampaignRecipient.Status.QUEUED, claimed_until=None,
        not_before=timezone.now() + dt.timedelta(seconds=delay),
        reason=(error.code or f"http_{error.status}")[:50], error_message=str(error)[:500],
    )
    metrics.inc(metrics.CAMPAIGN_SENDS, status="retried")


def recipients_settle_unsettled(*, campaign_id: int, now: dt.datetime | None = None) -> dict:
    """Apply the rule to recipients left `sending` past the grace with no word from the provider:
    queued again (same send key) while they have had fewer than MAX_UNSETTLED tries, else
    failed/delivery_unknown. Returns the counts."""
    now = now or timezone.now()
    stale = CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status=CampaignRecipient.Status.SENDING, claimed_until__lt=now,
        provider_message_id="",
    )
    requeued = stale.filter(attempts__lt=MAX_UNSETTLED).update(
        status=CampaignRecipient.Status.QUEUED, claimed_until=None)
    failed = stale.update(
        status=CampaignRecipient.Status.FAILED, reason=DELIVERY_UNKNOWN, failed_at=now, claimed_until=None,
        error_message="The send was interrupted and the provider never confirmed it.",
    )
    # A stale one with a provider id was taken by the provider: sent, whatever its answer said.
    CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status=CampaignRecipient.Status.SENDING, claimed_until__lt=now,
    ).exclude(provider_message_id="").update(status=CampaignRecipient.Status.SENT, claimed_until=None)
    return {"requeued": requeued, "failed": failed}


# --- quota, window, sending ----------------------------------------------------------------------

def outbound_left() -> int | None:
    """Sends the plan has left this month (None: unlimited), counting replies queued meanwhile."""
    company = Company.objects.select_related("plan").get(schema_name=connection.schema_name)
    limit = company.plan.max_monthly_outbound_messages
    if limit is None:
        return None
    used = MonthlyUsage.objects.filter(company_id=company.pk, month=month_start()).values_list(
        "outbound_messages", flat=True).first() or 0
    queued = Message.objects.filter(direction=Message.Direction.OUTBOUND,
                                    status__in=(Message.Status.PENDING, Message.Status.SENDING)).count()
    return max(0, limit - used - queued)


def _pause_for_limit(campaign: Campaign) -> None:
    paused = campaign_pause(actor=None, campaign=campaign, reason=Campaign.PauseReason.OUTBOUND_LIMIT)
    if paused.created_by_id:
        notify(
            users=[paused.created_by], kind="campaign_paused",
            title=_("Campaign “%(name)s” paused: monthly outbound limit reached") % {"name": paused.name},
            body=_("Your plan's messages for this month are used up. Resume it when the limit allows."),
            data={"campaign_id": paused.pk, "reason": Campaign.PauseReason.OUTBOUND_LIMIT},
        )


class _Provider:
    """Providers for one batch: credentials decrypted once (Twilio: per send, its callback URL
    carries the send key)."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox
        self.shared = None if inbox.provider == Inbox.Provider.TWILIO else provider_for(inbox)

    def for_key(self, send_key: str):
        return self.shared or provider_for(self.inbox, send_key=send_key)


def _send_one(campaign: Campaign, recipient: CampaignRecipient, providers: _Provider):
    key = str(recipient.send_key)
    provider = providers.for_key(key)
    to = recipient.contact.phone
    if campaign.template:
        variables = [render(value, recipient.contact) for value in campaign.template.get("variables", [])]
        return provider.send_template(to=to, name=campaign.template["name"],
                                      language=campaign.template["language"], variables=variables,
                                      send_key=key)
    message = campaign_message_for(campaign, recipient.contact)
    if campaign.media_id:
        url = tenant_base_url() + signed_path(campaign.media.key, "original", ttl=MEDIA_LINK_TTL)
        return provider.send_media(to=to, kind=campaign.media.kind, url=url, send_key=key,
                                   caption=message["text"], filename=campaign.media.filename)
    return provider.send_text(to=to, text=message["text"], send_key=key)


class Sender:
    """One run of a campaign's sender, in its company's schema, holding its lease."""

    def __init__(self, schema_name: str, campaign_id: int, redis, lease: SenderLease):
        self.schema, self.campaign_id, self.redis, self.lease = schema_name, campaign_id, redis, lease
        self.sent_uncounted = 0
        self.lock = threading.Lock()  # the lanes share the counter above
        self.stop_checked, self.stop_seen = 0.0, False

    def stopped(self) -> bool:
        """Whether pause or cancel asked the sender to stop (Redis asked every STOP_POLL_SECONDS at
        most, not before every send of a fast campaign)."""
        if self.lease.lost or self.stop_seen:
            return True
        now = time.monotonic()
        if now - self.stop_checked >= STOP_POLL_SECONDS:
            self.stop_checked = now
            self.stop_seen = control.stop_raised(self.schema, self.campaign_id)
        return self.stop_seen

    def progress(self) -> None:
        publish(CAMPAIGN_PROGRESS, {"campaign_id": self.campaign_id})

    def tick(self, done: threading.Event) -> None:
        """`campaign.progress` every PROGRESS_SECONDS while the sender works, from a thread of its
        own: the count and the frame never hold up a send."""
        while not done.wait(PROGRESS_SECONDS):
            try:
                self.progress()
            except Exception:
                logger.exception("campaign %s: a progress frame failed", self.campaign_id)

    def count_usage(self) -> None:
        with self.lock:
            amount, self.sent_uncounted = self.sent_uncounted, 0
        if amount:
            usage_increment(schema_name=self.schema, counter="outbound_messages", amount=amount)

    def wait_for_slot(self, campaign: Campaign, token: str) -> bool:
        """Take a slot of the inbox's budget; False if the campaign was stopped meanwhile."""
        while True:
            wait = reserve_bulk_slot(redis=self.redis, schema_name=self.schema, inbox_id=campaign.inbox_id,
                                     per_second=campaign.effective_rate, token=token)
            if wait == 0.0:
                return True
            if self.stopped():
                return False
            time.sleep(min(wait, STOP_POLL_SECONDS))

    def run(self) -> str:
        try:
            recipients_materialize(campaign_id=self.campaign_id)
        except ValidationFailed as exc:  # its segment was deleted after the start: nothing to send
            detail = (exc.details or [{}])[0]
            campaign_finish(campaign_id=self.campaign_id, status=Campaign.Status.FAILED,
                            reason=f"{detail.get('field', '')}: {detail.get('message', exc.message)}")
            return "failed"
        _take_over(self.campaign_id)
        self.progress()
        done = threading.Event()
        ticker = threading.Thread(target=self.in_schema, args=(lambda: self.tick(done),),
                                  name="campaign-progress", daemon=True)
        ticker.start()
        try:
            while True:
                campaign = Campaign.objects.select_related("inbox", "media", "created_by").filter(
                    pk=self.campaign_id).first()
                if campaign is None or campaign.status != Campaign.Status.RUNNING or self.stopped():
                    return "stopped"
                opening = next_opening(campaign.send_window, campaign.timezone, timezone.now())
                if opening is not None:
                    queue_sender(self.schema, self.campaign_id, eta=opening)
                    return "outside_window"
                self.count_usage()  # the month's counter is current before the quota is read
                left = outbound_left()
                if left is not None and left <= 0:
                    _pause_for_limit(campaign)
                    return "outbound_limit"
                # About two seconds of sends: a claim outlives its batch at any rate.
                size = min(BATCH, max(5, 2 * campaign.effective_rate))
                batch = _claim(self.campaign_id, size if left is None else min(size, left))
                if not batch:
                    return self.finish_or_wait()
                outcome = self.send_batch(campaign, batch)
                if outcome:
                    return outcome
        finally:
            done.set()
            ticker.join()
            self.count_usage()
            self.progress()

    def lanes(self, campaign: Campaign) -> int:
        """Sends in flight at once. One lane does about 200 a second (a request and two writes per
        send); faster campaigns get more, each lane on its own database connection."""
        return max(1, min(send_lanes_max(), math.ceil(campaign.effective_rate / SENDS_PER_LANE)))

    def send_batch(self, campaign: Campaign, batch: list[CampaignRecipient]) -> str | None:
        providers = _Provider(campaign.inbox)
        control.mark_sent_recently(self.schema, campaign.inbox_id)
        upcoming, taking, stop = iter(batch), threading.Lock(), threading.Event()
        not_sent: list[CampaignRecipient] = []

        def lane() -> None:
            while not stop.is_set():
                with taking:
                    recipient = next(upcoming, None)
                if recipient is None:
                    return
                if not self.send_recipient(campaign, recipient, providers):
                    stop.set()
                    with taking:
                        not_sent.append(recipient)

        lanes = self.lanes(campaign)
        if lanes == 1:
            lane()
        else:
            threads = [threading.Thread(target=self.in_schema, args=(lane,), name=f"campaign-lane-{n}")
                       for n in range(lanes)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if stop.is_set():
            _release(not_sent + list(upcoming))
            return "stopped"
        return None

    def in_schema(self, work) -> None:
        """Run a lane on this thread's own connection, in the company's schema, closed after."""
        try:
            with schema_context(self.schema):
                work()
        finally:
            connection.close()

    def send_recipient(self, campaign: Campaign, recipient: CampaignRecipient, providers: "_Provider",
                       ) -> bool:
        """Send one claimed recipient; False (nothing sent) when the campaign was stopped first."""
        if self.stopped():
            return False
        # Marked before the wait for a slot, not after it: the write's round trip would otherwise
        # lie between the grant and the request, and every second of the limiter would lose it.
        if not _mark_sending(recipient):
            return True  # another sender has it
        token = uuid.uuid4().hex
        if not self.wait_for_slot(campaign, token):
            _unmark_sending(recipient)  # stopped while waiting: never sent, back in the queue
            return False
        try:
            result = _send_one(campaign, recipient, providers)
        except ProviderError as exc:
            self.slot_done(campaign, token)
            self.settle_error(recipient, exc)
        except BaseException:
            self.slot_done(campaign, token)
            raise
        else:
            # The answer is in, so the request has arrived: bound it now, before our own write.
            self.slot_done(campaign, token)
            _mark_sent(recipient, result.provider_message_id)
            with self.lock:
                self.sent_uncounted += 1
        return True

    def slot_done(self, campaign: Campaign, token: str) -> None:
        bulk_slot_done(redis=self.redis, schema_name=self.schema, inbox_id=campaign.inbox_id, token=token)

    def settle_error(self, recipient: CampaignRecipient, exc: ProviderError) -> None:
        if exc.maybe_delivered:
            # Never re-sent blindly: a status webhook carrying the send key settles it either way.
            _mark_failed(recipient, DELIVERY_UNKNOWN, str(exc))
        elif exc.retryable and recipient.attempts < MAX_ATTEMPTS:
            _mark_retry(recipient, exc.retry_after or min(2.0 ** recipient.attempts, 300.0), exc)
        else:
            _mark_failed(recipient, exc.code or f"http_{exc.status}", str(exc))

    def finish_or_wait(self) -> str:
        """Nothing to claim now: complete the campaign if every recipient is final, else come back
        when the next retry or unsettled send is due."""
        recipients_settle_unsettled(campaign_id=self.campaign_id)
        pending = CampaignRecipient.objects.filter(
            campaign_id=self.campaign_id,
            status__in=(CampaignRecipient.Status.QUEUED, CampaignRecipient.Status.SENDING),
        )
        if not pending.exists():
            campaign_finish(campaign_id=self.campaign_id)
            return "completed"
        now = timezone.now()
        queued = pending.filter(status=CampaignRecipient.Status.QUEUED)
        if queued.filter(Q(not_before__isnull=True) | Q(not_before__lt=now)).filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).exists():
            queue_sender(self.schema, self.campaign_id, delay=0.1)
            return "again"
        retry = queued.order_by("not_before").values_list("not_before", flat=True).first()
        settle = pending.filter(status=CampaignRecipient.Status.SENDING).order_by(
            "claimed_until").values_list("claimed_until", flat=True).first()
        due = min([when for when in (retry, settle) if when is not None], default=None)
        delay = max(0.5, (due - timezone.now()).total_seconds() + 0.1) if due else 1.0
        queue_sender(self.schema, self.campaign_id, delay=min(delay, 60.0))
        return "waiting"


def queue_sender(schema_name: str, campaign_id: int, *, delay: float | None = None,
                 eta: dt.datetime | None = None, look_again: bool = True) -> None:
    """Queue the campaign's sender now, or for later (`delay` seconds, or at `eta`).

    A later wake is queued only if none is queued for that moment or earlier: the minute sweep
    wakes a waiting campaign (outside its send window, or until a retry is due) every minute, and
    each would otherwise leave one more eta task behind.
    """
    from apps.campaigns.tasks import campaign_send

    if delay is None and eta is None:
        campaign_send(schema_name, campaign_id, look_again)
        return
    now = time.time()
    when = eta.timestamp() if eta is not None else now + delay
    redis, key = control.shared_redis(), redis_key("campaign-wake", schema_name, campaign_id)
    queued = redis.get(key)
    if queued is not None and now < float(queued) <= when + 0.05:
        return
    redis.set(key, repr(when), ex=max(1, math.ceil(when - now)) + 5)
    campaign_send.schedule(args=(schema_name, campaign_id, look_again),
                           eta=dt.datetime.fromtimestamp(when, dt.UTC))


def campaign_send_run(*, schema_name: str, campaign_id: int, look_again: bool = True) -> str:
    """Send the campaign while it runs (see the module docstring); returns why it stopped."""
    redis = control.shared_redis()
    lease = SenderLease(redis, schema_name, campaign_id)
    taken = lease.acquire()
    if taken == "busy":
        # Its holder may have died: look again once the lease could have expired.
        remaining = redis.pttl(lock_key(schema_name, campaign_id))
        if look_again and remaining > 0 and not HUEY.immediate:
            queue_sender(schema_name, campaign_id, delay=remaining / 1000 + 0.2, look_again=False)
        return "busy"
    if taken == "full":
        queue_sender(schema_name, campaign_id, delay=1.0)
        return "waiting_for_place"
    try:
        return Sender(schema_name, campaign_id, redis, lease).run()
    finally:
        lease.release()
