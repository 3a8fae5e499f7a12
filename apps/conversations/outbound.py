"""What agents send: validation when a reply is written, and its delivery by a worker.

Delivery is exactly-once per message: a worker claims the message (pending → sending) under a
row lock before calling the provider, so two workers or a repeated task cannot send it twice. A
worker that dies mid-send leaves the message `sending`; it is never re-sent blindly (the provider
may have it) but marked `failed`/`delivery_unknown` once its lease expires, and a later status
webhook carrying our send key settles it.
"""

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.permissions import Actor, acting_user
from apps.conversations import events
from apps.conversations.models import DELIVERY_UNKNOWN, Conversation, Message, TimelineEvent
from apps.conversations.preview import message_preview
from apps.conversations.selectors import media_visible_to
from apps.conversations.services import (
    check_conversation_action,
    conversation_assign,
    conversation_set_bot_context,
)
from apps.inboxes.models import Inbox, MessageTemplate
from apps.inboxes.providers.base import ProviderError
from apps.inboxes.selectors import provider_for, tenant_base_url
from apps.inboxes.send_rate import wait_for_send_slot
from apps.media.models import MediaFile
from apps.media.storage import signed_path
from conversa.errors import DomainError, RateLimited, ValidationFailed
from conversa.events import publish
from conversa.prepared import PreparedRead
from conversa.redis import get_redis, redis_key
from tenants import databases
from tenants.limits import PlanLimitReached, lock_current_company
from tenants.models import Company, MonthlyUsage
from tenants.usage import month_start, usage_for_month, usage_increment

logger = logging.getLogger("conversa.outbound")

SERVICE_WINDOW = dt.timedelta(hours=24)
MAX_TEXT_LENGTH = 4096
SEND_LEASE = dt.timedelta(seconds=90)
MAX_ATTEMPTS = 8
MEDIA_LINK_TTL = 6 * 3600


class OutsideServiceWindow(DomainError):
    status = 422
    code = "outside_service_window"
    default_message = _(
        "More than 24 hours have passed since the customer's last message: only an approved "
        "template can be sent."
    )


class CannotSend(DomainError):
    status = 422
    code = "cannot_send"


class DailyLimitReached(RateLimited):
    code = "daily_limit_reached"
    default_message = _("This inbox has sent as many messages today as its daily limit allows.")


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff: 2, 4, 8 … seconds, capped at 5 minutes."""
    return min(2.0**attempt, 300.0)


def within_service_window(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    return service_window_open(conversation.contact.last_inbound_at, now or timezone.now())


def service_window_open(last_inbound_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a customer whose last message came at `last_inbound_at` may get free-form messages."""
    return last_inbound_at is not None and now - last_inbound_at <= SERVICE_WINDOW


_send_settings_read = PreparedRead(
    lambda schema_name: Company.objects.filter(schema_name=schema_name).values_list(
        "plan__max_monthly_outbound_messages", "time_zone"
    ),
    schema_name="",
)


def _send_settings() -> tuple[int | None, str]:
    """The plan's monthly outbound limit and the company's time zone, in one light query: what every
    send asks (a full company row with its plan costs more to build than to fetch)."""
    [settings] = _send_settings_read.all(schema_name=connection.schema_name)
    return settings


def _outbound_quota(wanted: int, limit: int | None) -> tuple[int, int | None, int]:
    """How many of `wanted` sends the plan's monthly outbound messages still allow: (allowed, limit,
    used). Call first in the send's transaction, with the limit `_send_settings` read.

    Under the company's row lock, and counting the messages queued but not sent yet (the month's
    counter moves only when the provider takes one): two sends at the limit cannot both pass. The
    counter and the queue are read in one statement, so a send the worker completes meanwhile
    (pending → sent, counter + 1 in one transaction) is counted once, never twice or not at all.
    """
    if limit is None:
        return wanted, None, 0  # unlimited: no reason to queue this company's sends behind one another
    company = lock_current_company()
    limit = company.plan.max_monthly_outbound_messages
    if limit is None:
        return wanted, None, 0
    if databases.current() != DEFAULT_DB_ALIAS:
        # The counter is on the main server, the queue on the company's: no one statement reads
        # both. The queue first: a send the worker completes in between is counted twice (a refusal
        # one message early), never missed.
        queued = Message.objects.filter(direction=Message.Direction.OUTBOUND,
                                        status__in=[Message.Status.PENDING, Message.Status.SENDING]).count()
        used = queued + usage_for_month(company_id=company.pk)["outbound_messages"]
    else:
        used = _used_this_month(company)
    return max(0, min(wanted, limit - used)), limit, used


def _used_this_month(company: Company) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE((SELECT outbound_messages FROM public.{MonthlyUsage._meta.db_table}"
            f" WHERE company_id = %s AND month = %s), 0)"
            f" + (SELECT count(*) FROM {Message._meta.db_table} WHERE direction = %s AND status IN (%s, %s))",
            [company.pk, month_start(), Message.Direction.OUTBOUND, Message.Status.PENDING,
             Message.Status.SENDING],
        )
        return cursor.fetchone()[0]


def _quota_refusal(limit: int, used: int) -> PlanLimitReached:
    return PlanLimitReached(
        _("This month's outbound messages are used up (%(limit)s).") % {"limit": limit},
        details={"limit": limit, "used": used, "resource": "max_monthly_outbound_messages"},
    )


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _daily_sends_take(inbox: Inbox, now: dt.datetime, wanted: int, time_zone: str) -> int:
    """Take up to `wanted` of the inbox's sends for today (since midnight in the company's time
    zone); returns how many it got. Call last before the sends' insert.

    Counted in Redis: an atomic increment per send, so concurrent sends at the limit cannot both pass
    and a send costs no count of the inbox's messages. The day's counter starts from the messages
    stored so far (one count per inbox and day, or after Redis lost it). A send whose transaction
    then rolls back keeps its place: the limit errs on the side of sending less.
    """
    limit = inbox.daily_limit
    if limit is None:
        return wanted
    zone = _zone(time_zone)
    today = now.astimezone(zone).date()
    midnight = dt.datetime.combine(today, dt.time(0), tzinfo=zone)
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    redis, key = get_redis(), redis_key("daily-sends", connection.schema_name, inbox.pk, today.isoformat())
    if not redis.exists(key):
        sent = Message.objects.filter(
            inbox_id=inbox.pk, direction=Message.Direction.OUTBOUND, created_at__gte=midnight
        ).count()
        redis.set(key, sent, nx=True, ex=int((tomorrow - now).total_seconds()) + 3600)
    taken = redis.incrby(key, wanted)
    allowed = max(0, min(wanted, limit - (taken - wanted)))
    if allowed < wanted:
        redis.decrby(key, wanted - allowed)
    return allowed


def _ensure_daily_limit(inbox: Inbox, now: dt.datetime, time_zone: str | None = None) -> None:
    """Take one of the inbox's sends for today, or refuse with 429 past its daily limit."""
    if inbox.daily_limit is None:
        return
    time_zone = time_zone or _send_settings()[1]
    if not _daily_sends_take(inbox, now, 1, time_zone):
        zone = _zone(time_zone)
        today = now.astimezone(zone).date()
        tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        raise DailyLimitReached(
            _("This inbox has sent its %(limit)s messages for today; sending resumes at midnight.")
            % {"limit": inbox.daily_limit},
            retry_after=(tomorrow - now).total_seconds(),
            details=[{"field": "inbox_id", "message": str(_("Daily limit reached."))}],
        )


def template_for(inbox: Inbox, template: dict) -> tuple[MessageTemplate, list[str]]:
    name, language = template.get("name", ""), template.get("language") or ""
    variables = [str(value) for value in template.get("variables") or []]
    found = MessageTemplate.objects.filter(inbox=inbox, name=name, status=MessageTemplate.Status.APPROVED)
    if language:
        found = found.filter(language=language)
    approved = found.first()
    if approved is None:
        raise ValidationFailed(
            details=[{"field": "template.name", "message": str(_("No approved template."))}]
        )
    if len(variables) != approved.variable_count:
        raise ValidationFailed(
            details=[
                {
                    "field": "template.variables",
                    "message": str(_("Expected %(expected)d variables, got %(got)d.")
                                   % {"expected": approved.variable_count, "got": len(variables)}),
                }
            ]
        )
    return approved, variables


def _media_for(media_id: int, author: Actor | None):
    """The file to attach, if the author may see it (the system may attach any)."""
    files = MediaFile.objects.all() if author is None else media_visible_to(author)
    media = files.filter(pk=media_id).first()
    if media is None:
        raise ValidationFailed(details=[{"field": "media_id", "message": str(_("No such file."))}])
    if media.status in (MediaFile.Status.INFECTED, MediaFile.Status.REJECTED):
        raise CannotSend(
            _("This file was %(status)s and cannot be sent.")
            % {"status": media.get_status_display().lower()},
            details=[{"field": "media_id", "message": media.status}],
        )
    return media


def message_send(
    *,
    conversation: Conversation,
    author: Actor | None,
    text: str | None = None,
    template: dict | None = None,
    reply_to_id: int | None = None,
    media_id: int | None = None,
    preauthorized: bool = False,
    automatic: bool = False,
    bot: bool = False,
) -> Message:
    """Queue an outbound message; a worker delivers it after commit (with media: once the file is clean).

    Free-form text or media need the 24-hour service window; templates do not. Refuses (and writes
    nothing) on bad input, an archived conversation, a blocked contact or a used-up monthly quota;
    404 when the author may not see the conversation (or the file), 403 when it may not write,
    unless `preauthorized` (a scheduled message, checked when it was scheduled). An `automatic`
    message is one the company sends by itself (greeting, away, closing message): from the system,
    never an answer, and it leaves the conversation's status and queue alone. Past the inbox's daily
    limit, 429 `daily_limit_reached` and nothing is queued. A `bot` message is a flow's reply: as an
    automatic one, but its sender is the bot.
    """
    if automatic or bot:
        author, preauthorized = None, True
    if template is not None and (text is not None or media_id is not None):
        raise ValidationFailed(details=[{"field": "template", "message": str(_("A template goes alone."))}])
    if text is None and template is None and media_id is None:
        raise ValidationFailed(
            details=[{"field": "text", "message": str(_("Send text, media or a template."))}]
        )
    if text is not None and not 1 <= len(text.strip() and text) <= MAX_TEXT_LENGTH:
        raise ValidationFailed(
            details=[{"field": "text", "message": str(_("Text must be 1 to 4096 characters."))}]
        )
    conversation = Conversation.objects.select_related("contact", "inbox").get(pk=conversation.pk)
    if not preauthorized:
        check_conversation_action(actor=author, conversation=conversation, action="conversations.write")
    media = _media_for(media_id, None if preauthorized else author) if media_id is not None else None
    sender = acting_user(author)
    if conversation.status == Conversation.Status.ARCHIVED:
        raise CannotSend(_("Archived conversations cannot receive messages."))
    if conversation.contact.blocked:
        raise CannotSend(_("This contact is blocked."))
    if template is None and not within_service_window(conversation):
        raise OutsideServiceWindow()
    approved, variables = template_for(conversation.inbox, template) if template is not None else (None, [])
    reply_to = None
    if reply_to_id is not None:
        reply_to = Message.objects.filter(pk=reply_to_id, conversation=conversation).first()
        if reply_to is None:
            raise ValidationFailed(
                details=[{"field": "reply_to", "message": str(_("No such message here."))}]
            )
    schema = connection.schema_name
    now = timezone.now()
    with transaction.atomic():
        limit, time_zone = _send_settings()
        allowed, limit, used = _outbound_quota(1, limit)
        if not allowed:
            raise _quota_refusal(limit, used)
        _ensure_daily_limit(conversation.inbox, now, time_zone)
        locked = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
        if not preauthorized and _reply_assigns(locked, sender):
            conversation_assign(conversation=locked, assignee=sender, actor=author)
            locked = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
        message = Message.objects.create(
            conversation=locked,
            inbox_id=locked.inbox_id,
            direction=Message.Direction.OUTBOUND,
            sender_type=(
                Message.Sender.BOT if bot else Message.Sender.AGENT if sender else Message.Sender.SYSTEM
            ),
            sender_user=sender,
            kind=Message.Kind.TEMPLATE if approved else (media.kind if media else Message.Kind.TEXT),
            text=approved.render(variables) if approved else (text or ""),
            media=media,
            template_name=approved.name if approved else "",
            template_language=approved.language if approved else "",
            template_variables=variables,
            reply_to=reply_to,
            status=Message.Status.PENDING,
        )
        previous_status = locked.status
        if not (automatic or bot) and locked.status in (
            Conversation.Status.QUEUED,
            Conversation.Status.PENDING,
            Conversation.Status.CLOSED,
        ):
            locked.status = Conversation.Status.OPEN
            locked.closed_at = None
            TimelineEvent.objects.create(
                conversation=locked,
                actor=sender,
                kind="status_changed",
                data={"from": previous_status, "to": locked.status},
            )
            publish(
                events.CONVERSATION_STATUS_CHANGED,
                {"conversation_id": locked.pk, "from": previous_status, "to": locked.status},
            )
        first_response = sender is not None and locked.first_response_at is None
        if first_response:
            locked.first_response_at = now
        locked.last_message_at = now
        locked.last_message_preview = message_preview(kind=message.kind, text=message.text)
        locked.save()
        publish(events.MESSAGE_CREATED, {"message_id": message.pk})
        publish(events.CONVERSATION_UPDATED, {
            "conversation_id": locked.pk, events.WITH_MESSAGE: True,
            **({events.FIRST_RESPONSE: True} if first_response else {}),
        })
        transaction.on_commit(lambda: _enqueue_delivery(schema, message.pk))
    return message


def bot_replies_send(
    *, conversation: Conversation, texts: list[str], bot_context: dict | None = None
) -> list[Message]:
    """Queue the replies a flow's step wrote, in order: what `message_send(..., bot=True)` does for
    each, in three statements for them all (the company's limits, the insert, the conversation's
    last message) and one delivery task that sends them one after the other. `bot_context`, the
    flow's state after the step (`conversation_set_bot_context`), is stored in the same update.

    The caller holds the conversation's row lock and passes it as read under that lock, with its
    contact and inbox. A refusal costs replies, never raises (the step goes on): an empty or too long
    text is left out; an archived conversation, a blocked contact or a closed service window send
    none; the monthly quota and the inbox's daily limit let through the first ones that fit.
    """
    wanted = [text for text in texts if 1 <= len(text.strip() and text) <= MAX_TEXT_LENGTH]
    refusal = (
        "invalid_text" if len(wanted) < len(texts)
        else "" if wanted else "nothing"
    )
    if conversation.status == Conversation.Status.ARCHIVED:
        wanted, refusal = [], CannotSend.code
    elif conversation.contact.blocked:
        wanted, refusal = [], CannotSend.code
    elif wanted and not within_service_window(conversation):
        wanted, refusal = [], OutsideServiceWindow.code
    messages: list[Message] = []
    if wanted:
        now = timezone.now()
        limit, time_zone = _send_settings()
        allowed = _outbound_quota(len(wanted), limit)[0]
        allowed = _daily_sends_take(conversation.inbox, now, allowed, time_zone) if allowed else 0
        if allowed < len(wanted):
            refusal = "limit_reached"
        messages = Message.objects.bulk_create([
            Message(
                conversation_id=conversation.pk, inbox_id=conversation.inbox_id,
                direction=Message.Direction.OUTBOUND, sender_type=Message.Sender.BOT,
                kind=Message.Kind.TEXT, text=text, status=Message.Status.PENDING,
            )
            for text in wanted[:allowed]
        ])
    if refusal and refusal != "nothing":
        logger.info("%d of %d flow replies in conversation %s not sent: %s",
                    len(texts) - len(messages), len(texts), conversation.pk, refusal)
    if not messages:
        if bot_context is not None:
            conversation_set_bot_context(conversation_id=conversation.pk, context=bot_context)
        return []
    preview = message_preview(kind=Message.Kind.TEXT, text=messages[-1].text)
    changes = {"last_message_at": now, "last_message_preview": preview, "updated_at": now}
    if bot_context is not None:
        changes["bot_context"] = bot_context
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    conversation.last_message_at, conversation.last_message_preview = now, preview
    for message in messages:
        # Direction and sender said here: the listeners that only care for people's messages need
        # not read the row to know this is neither.
        publish(events.MESSAGE_CREATED, {"message_id": message.pk, "direction": "outbound", "sender": "bot"})
    publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk, events.WITH_MESSAGE: True})
    schema, ids = connection.schema_name, [message.pk for message in messages]
    transaction.on_commit(lambda: _enqueue_deliveries(schema, ids))
    return messages


def _reply_assigns(locked: Conversation, sender) -> bool:
    """Whether this reply takes the conversation for its author: a person answering an unassigned
    conversation in progress, in a company that keeps `reply_assigns` on (the default). The taking
    itself is `conversation_assign`, under the same rule as the Assign button."""
    if sender is None or locked.assignee_id is not None:
        return False
    if locked.status not in Conversation.ACTIVE_STATUSES:
        return False
    return Company.objects.filter(schema_name=connection.schema_name, reply_assigns=True).exists()


def _enqueue_delivery(schema_name: str, message_id: int, delay: float | None = None) -> None:
    from apps.conversations.tasks import message_deliver

    if delay:
        message_deliver.schedule(args=(schema_name, message_id), delay=delay)
    else:
        message_deliver(schema_name, message_id)


def _enqueue_deliveries(schema_name: str, message_ids: list[int]) -> None:
    from apps.conversations.tasks import messages_deliver

    if len(message_ids) == 1:
        _enqueue_delivery(schema_name, message_ids[0])
    else:
        messages_deliver(schema_name, message_ids)


# What a delivery reads: the message, its inbox (credentials, rate) and file, the phone it goes to and
# the provider's id of the message it answers; not the rest of the conversation, contact and quoted
# message rows.
_SEND_FIELDS = (
    "conversation__contact__phone", "inbox", "media", "reply_to__provider_message_id", "kind", "text",
    "template_name", "template_language", "template_variables", "send_key", "status", "attempts",
    "claimed_until",
)
_pending_outbound = PreparedRead(
    lambda message_id: Message.objects.select_for_update(skip_locked=True, of=("self",))
    .select_related("conversation__contact", "inbox", "reply_to", "media")
    .only(*_SEND_FIELDS)
    .filter(pk=message_id, status=Message.Status.PENDING, direction=Message.Direction.OUTBOUND)
    .order_by()[:1],
    message_id=0,
)
_sending = PreparedRead(
    lambda message_id: Message.objects.select_for_update()
    .only("provider_message_id", "sent_at", "status", "claimed_until", "error_code")
    .filter(pk=message_id),
    message_id=0,
)


def _claim(message_id: int) -> Message | str:
    """The pending message, now `sending` under a lease; or what happened instead: "skipped" (not
    pending, or another worker holds it), "waiting_for_media" (its file is still in quarantine: the
    scan queues it again once clean) or "failed" (its file turned out infected or rejected, and it
    never reaches the provider)."""
    with transaction.atomic():
        message = _pending_outbound.first(message_id=message_id)
        if message is None:
            return "skipped"
        if message.media is not None and not message.media.is_clean:
            return _hold_for_media(message)
        message.status = Message.Status.SENDING
        message.attempts += 1
        message.claimed_until = timezone.now() + SEND_LEASE
        message.save(update_fields=["status", "attempts", "claimed_until"])
    return message


def _hold_for_media(message: Message) -> str:
    if message.media.status == MediaFile.Status.SCANNING:
        return "waiting_for_media"
    message.status, message.failed_at = Message.Status.FAILED, timezone.now()
    message.error_code = f"media_{message.media.status}"
    message.error_message = "The attached file was not safe to send."
    message.save(update_fields=["status", "failed_at", "error_code", "error_message"])
    publish(events.MESSAGE_UPDATED, {"message_id": message.pk})
    return "failed"


def _send(message: Message):
    provider = provider_for(message.inbox, send_key=str(message.send_key))
    to = message.conversation.contact.phone
    key = str(message.send_key)
    if message.kind == Message.Kind.TEMPLATE:
        return provider.send_template(
            to=to,
            name=message.template_name,
            language=message.template_language,
            variables=list(message.template_variables),
            send_key=key,
        )
    if message.media_id:
        # The provider fetches the file itself: a link of ours that lives long enough for its retries.
        url = tenant_base_url() + signed_path(message.media.key, "original", ttl=MEDIA_LINK_TTL)
        return provider.send_media(
            to=to,
            kind=message.kind,
            url=url,
            send_key=key,
            caption=message.text,
            filename=message.media.filename,
        )
    reply_to = message.reply_to.provider_message_id if message.reply_to else ""
    return provider.send_text(to=to, text=message.text, send_key=key, reply_to=reply_to)


def _release_for_retry(message: Message, delay: float, error: ProviderError | None) -> None:
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.PENDING,
        claimed_until=timezone.now() + dt.timedelta(seconds=delay),
        error_code=error.code if error else "",
        error_message=str(error)[:500] if error else "",
    )


def _fail(message: Message, code: str, text: str) -> None:
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.FAILED,
            error_code=code[:50],
            error_message=text[:500],
            failed_at=timezone.now(),
            claimed_until=None,
        )
        if updated:
            publish(events.MESSAGE_UPDATED, {"message_id": message.pk})


def _mark_sent(message: Message, provider_message_id: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        [current] = _sending.all(message_id=message.pk)
        if not current.provider_message_id:
            current.provider_message_id = provider_message_id
        current.sent_at = current.sent_at or now
        if current.status in (Message.Status.SENDING, Message.Status.PENDING):
            current.status = Message.Status.SENT
        current.claimed_until = None
        current.error_code = current.error_code if current.status == Message.Status.FAILED else ""
        current.save(update_fields=[
            "provider_message_id", "sent_at", "status", "claimed_until", "error_code"
        ])
        usage_increment(schema_name=connection.schema_name, counter="outbound_messages")
        publish(events.MESSAGE_UPDATED, {"message_id": current.pk})


def queue_delivery_after_commit(message_id: int) -> None:
    schema = connection.schema_name
    transaction.on_commit(lambda: _enqueue_delivery(schema, message_id))


def message_deliver(*, message_id: int) -> str:
    """Send one pending outbound message through its inbox's provider, at the inbox's rate.

    Returns what happened: "skipped" (not pending: already sent, sending or cancelled), "sent",
    "retry" (scheduled again after a retryable error), "waiting_for_media" or "failed".
    """
    schema = connection.schema_name
    message = _claim(message_id)
    if isinstance(message, str):
        return message
    inbox = message.inbox
    if not wait_for_send_slot(
        schema_name=schema, inbox_id=inbox.pk, per_second=inbox.rate_limit_per_second, timeout=30
    ):
        _release_for_retry(message, 1.0, None)
        _enqueue_delivery(schema, message.pk, delay=1.0)
        return "retry"
    try:
        result = _send(message)
    except ProviderError as exc:
        if exc.maybe_delivered:
            # Never resent blindly: a status webhook carrying our send key settles it either way.
            _fail(message, DELIVERY_UNKNOWN, str(exc))
            return "failed"
        if exc.retryable and message.attempts < MAX_ATTEMPTS:
            delay = exc.retry_after or backoff_seconds(message.attempts)
            logger.info(
                "message %s: retryable provider error (%s), retry in %.1fs", message.pk, exc.status, delay
            )
            _release_for_retry(message, delay, exc)
            _enqueue_delivery(schema, message.pk, delay=delay)
            return "retry"
        _fail(message, exc.code or f"http_{exc.status}", str(exc))
        return "failed"
    _mark_sent(message, result.provider_message_id)
    return "sent"


def deliveries_recover(*, now: dt.datetime | None = None) -> dict:
    """Settle deliveries a dead worker left behind (run periodically per company).

    Expired `sending` leases become failed/delivery_unknown (never re-sent: the provider may have
    the message). Pending messages whose task was lost (and whose retry time has passed) are queued
    again; claiming is exclusive, so a duplicate task cannot send twice.
    """
    now = now or timezone.now()
    stale = list(
        Message.objects.filter(status=Message.Status.SENDING, claimed_until__lt=now).values_list(
            "pk", flat=True
        )
    )
    for pk in stale:
        with transaction.atomic():
            updated = Message.objects.filter(
                pk=pk, status=Message.Status.SENDING, claimed_until__lt=now
            ).update(
                status=Message.Status.FAILED,
                error_code=DELIVERY_UNKNOWN,
                error_message="The send was interrupted; the provider may or may not have the message.",
                failed_at=now,
                claimed_until=None,
            )
            if updated:
                publish(events.MESSAGE_UPDATED, {"message_id": pk})
    lost = list(
        Message.objects.filter(
            status=Message.Status.PENDING,
            direction=Message.Direction.OUTBOUND,
            created_at__lt=now - dt.timedelta(seconds=60),
        )
        .exclude(claimed_until__gt=now - dt.timedelta(seconds=60))
        .values_list("pk", flat=True)
    )
    schema = connection.schema_name
    for pk in lost:
        _enqueue_delivery(schema, pk)
    return {"interrupted": len(stale), "requeued": len(lost)}
