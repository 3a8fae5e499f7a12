"""The one webhook intake: which inbox, is it signed, can we use it, store it, answer, ask for a drain.

Two doors lead here and stay thin: the Django views (apps.inboxes.views) and the plain-ASGI fast
path (apps.inboxes.fast_webhooks), which stores signed Meta and Twilio webhooks without Django
when it is certain Django would. Both read the request into a `Webhook`, ask `check` (signature,
then whether its messages can be stored) and answer with `RECEIVED`; refusals are `Refused`,
rendered as SPEC §13 bodies by the views (the fast path hands anything but success to Django).

What happens to a stored event is conversations' business (it reads the events inboxes stored):
`request_drain` only raises the company's "a drain is queued or working" flag in Redis and, when
it was down, announces `WEBHOOKS_STORED` on the event bus, which apps.conversations.drain listens
to. Inboxes never imports conversations.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from django.db import connection, transaction
from django.utils.translation import gettext as _
from huey.contrib.djhuey import HUEY

from apps.contacts.phones import normalize_phone
from apps.inboxes.models import Inbox, WebhookEvent
from apps.inboxes.providers.base import Provider, WebhookBatch, form_fields
from apps.inboxes.selectors import provider_for
from conversa import metrics
from conversa.events import Event, dispatch
from conversa.prepared import PreparedRead
from conversa.redis import get_redis, redis_key

logger = logging.getLogger("conversa.webhooks")

FORM = "application/x-www-form-urlencoded"
# Published (schema_name set, data {"event_id"}) when a stored webhook needs a drain queued.
WEBHOOKS_STORED = "inboxes.webhooks_stored"
DRAIN_REQUEST_FAILED = "could not queue a drain for webhook event %s"
# How long the flag says "a drain is queued or working". The working drain renews it (and its
# lock) while it works; a drain lost with its worker or with Redis leaves a flag that is gone
# within this, so the next webhook queues a new one.
DRAIN_LEASE_SECONDS = 5

# Where a refused sender is named in the §13 details, per provider.
SENDER_FIELD = {
    Inbox.Provider.WHATSAPP_CLOUD: "entry.changes.value.messages.from",
    Inbox.Provider.TWILIO: "From",
    Inbox.Provider.SANDBOX: "from",
}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


# What a provider gets for a stored webhook, byte for byte the same from both doors.
RECEIVED = {
    Inbox.Provider.WHATSAPP_CLOUD: Answer(200, "application/json", b'{"status": "received"}'),
    Inbox.Provider.TWILIO: Answer(200, "text/xml", b"<Response/>"),
}


class Refused(Exception):
    """A webhook we do not store: a §13 error (status, code, message, details)."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def not_found() -> Refused:
    return Refused(404, "not_found", _("No such inbox."))


def invalid_signature() -> Refused:
    return Refused(403, "invalid_signature", _("The webhook signature is invalid."))


@dataclass(frozen=True)
class Webhook:
    """A provider's POST as both doors read it."""

    provider: str
    inbox_id: int
    url: str  # request.build_absolute_uri(): what the provider signed
    headers: Mapping[str, str]
    body: bytes
    content_type: str
    send_key: str = ""
    # Twilio: the one reading of the form that is both verified and stored (see read_form).
    form: dict[str, str] | None = None


def read_form(body: bytes) -> dict[str, str]:
    """A Twilio form, each field once. A repeated field is refused as a bad signature: the signature
    is checked over this very reading, and a form whose fields could be read two ways could carry a
    signed message with other, prepended, values."""
    try:
        return form_fields(body)
    except ValueError:
        raise invalid_signature() from None


def webhook_from_request(request, provider: str, inbox_id: int) -> Webhook:
    """The Django door's reading of a request (the fast path reads the ASGI scope the same way)."""
    form = read_form(request.body) if provider == Inbox.Provider.TWILIO else None
    return Webhook(
        provider=provider, inbox_id=inbox_id, url=request.build_absolute_uri(), headers=request.headers,
        body=request.body, form=form,
        content_type=FORM if form is not None else (request.content_type or "application/json"),
        send_key=request.GET.get("send_key", "") if form is not None else "",
    )


def check(provider: Provider, webhook: Webhook) -> WebhookBatch | None:
    """Refused (403) unless signed, else `check_usable`'s verdict."""
    if not verified(provider, webhook):
        raise invalid_signature()
    return check_usable(provider, webhook)


def verified(provider: Provider, webhook: Webhook) -> bool:
    return provider.verify_signature(body=webhook.body, headers=webhook.headers, url=webhook.url,
                                     form=webhook.form)


def check_usable(provider: Provider, webhook: Webhook) -> WebhookBatch | None:
    """Refused (422) when a message in a signed webhook could not be stored; else its parsed batch
    (None when it does not parse: kept for the worker, see below)."""
    try:
        batch = provider.parse_webhook(body=webhook.body, content_type=webhook.content_type)
    except Exception as exc:  # what a provider's parser raises on a body it cannot read
        if webhook.provider == Inbox.Provider.SANDBOX:
            # Refused before storing: a sandbox caller is a person who can fix the request.
            details = [{"field": "from", "message": str(exc)}]
            raise Refused(422, "validation_error", str(exc), details) from exc
        # A signed body we cannot read is stored all the same and marked failed by the worker after
        # its attempts: the provider did nothing a retry would fix, and the row keeps it for us.
        return None
    check_senders(webhook.provider, batch)
    return batch


def check_senders(provider: str, batch: WebhookBatch) -> None:
    """Refuse (422) a webhook carrying a message whose sender the worker could not make a contact of.

    Answering 2xx and then failing in the worker would lose the message while the provider believes
    it delivered. The hook runs the worker's own normaliser instead: Meta and Twilio, which retry
    any non-2xx, keep the message, show the failure in their consoles and deliver it again (a retry
    succeeds once our normaliser accepts the number); the sandbox's person sees which field is wrong.
    """
    for message in batch.messages:
        problem = sender_problem(message.from_phone)
        if problem:
            field = SENDER_FIELD.get(provider, "from")
            logger.warning("refused a %s webhook: sender %r: %s", provider, message.from_phone, problem)
            raise Refused(422, "validation_error", problem, [{"field": field, "message": problem}])


@lru_cache(maxsize=4096)
def sender_problem(phone: str) -> str:
    """Why `normalize_phone(phone, strict=False)` (what the worker's contact lookup runs) refuses
    `phone`, or "" (cached: customers write again, and the fast path parses every message)."""
    try:
        normalize_phone(phone, strict=False)
    except ValueError as exc:
        return str(exc)
    return ""


def receive(*, inbox: Inbox, webhook: Webhook) -> Answer:
    """The Django door for Meta and Twilio: check, store and answer; raises Refused."""
    try:
        check(provider_for(inbox), webhook)
    except Refused:
        metrics.inc(metrics.WEBHOOKS_RECEIVED, provider=webhook.provider, door="django", outcome="refused")
        raise
    webhook_receive(inbox=inbox, body=webhook.body, content_type=webhook.content_type,
                    send_key=webhook.send_key)
    metrics.inc(metrics.WEBHOOKS_RECEIVED, provider=webhook.provider, door="django", outcome="stored")
    return RECEIVED[webhook.provider]


# Every webhook asks it: compiled once (`conversa.prepared`), read from the database each time.
_active_inbox = PreparedRead(
    lambda inbox_id, provider: Inbox.objects.filter(
        pk=inbox_id, provider=provider, is_active=True
    ).order_by()[:1],
    inbox_id=0, provider="",
)


def active_inbox(inbox_id: int, provider: str) -> Inbox | None:
    return _active_inbox.first(inbox_id=inbox_id, provider=provider)


def webhook_receive(*, inbox: Inbox, body: bytes, content_type: str, send_key: str = "") -> WebhookEvent:
    """Persist a verified webhook, then (after commit) make sure a worker drains it.

    The row is the source of truth: if the queue or a worker is down, the drain's recovery or the
    periodic sweep finds it.
    """
    schema = connection.schema_name
    fields = webhook_event_fields(content_type, send_key)
    event = WebhookEvent.objects.create(inbox=inbox, body=body, **fields)
    transaction.on_commit(lambda: request_drain(schema, event.pk))
    return event


def webhook_event_fields(content_type: str, send_key: str) -> dict[str, str]:
    """The request's content type and send key as stored, cut to their columns: a provider's
    oversized value must not cost the event (the fast path's INSERT uses them too)."""
    return {"content_type": content_type[:100], "send_key": send_key[:64]}


def drain_flag_key(schema_name: str) -> str:
    return redis_key("webhook-drain", schema_name)


def drain_flag_set(client, schema: str, event_id: int):
    """Raise the company's "a drain is queued or working" flag unless it is up: true when the caller
    must queue the drain. `client` is a redis or a redis.asyncio client (await the result of the latter)."""
    return client.set(drain_flag_key(schema), event_id, nx=True, ex=DRAIN_LEASE_SECONDS)


def announce_stored(schema: str, event_id: int) -> None:
    """Tell the listener (apps.conversations.drain) to queue a drain of the company's events."""
    dispatch(Event(name=WEBHOOKS_STORED, schema_name=schema, data={"event_id": event_id}))


def request_drain(schema: str, event_id: int) -> None:
    """Queue a drain of the company's webhooks unless one is queued or working."""
    try:
        # Run inline (immediate mode), a drain is never left queued: nothing to wait for.
        if HUEY.immediate or drain_flag_set(get_redis(), schema, event_id):
            announce_stored(schema, event_id)
    except Exception:
        # The event is stored: the drain's recovery or the sweep takes it. The provider must still
        # get its 200.
        logger.exception(DRAIN_REQUEST_FAILED, event_id)
