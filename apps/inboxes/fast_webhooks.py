"""The plain-ASGI door of apps.inboxes.intake: signed Meta and Twilio webhooks stored straight from
ASGI when certain Django would store them; Django answers every other case.

What is read, verified, refused and answered is intake's (`Webhook`, `verified`, `check_usable`,
`RECEIVED`, the drain flag); this door only adds what lets it skip Django: reading the ASGI scope as
Django's request would read it, the host rules Django's middleware applies, and cached lookups with
one INSERT that re-checks them.
"""

import asyncio
import logging
import re
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from urllib.parse import parse_qsl

import psycopg
import redis.asyncio
from django.conf import settings
from django.http.request import HttpHeaders, split_domain_port, validate_host
from django.utils.encoding import escape_uri_path, iri_to_uri
from django.utils.http import parse_header_parameters
from django_tenants.utils import get_public_schema_name
from huey.contrib.djhuey import HUEY
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from apps.inboxes import crypto, intake
from apps.inboxes.models import Inbox, WebhookEvent
from apps.inboxes.providers import get_provider
from apps.inboxes.providers.base import Provider
from conversa import metrics
from tenants.hosts import is_platform_host
from tenants.models import Domain

logger = logging.getLogger("conversa.webhooks")

# The URL patterns of views.whatsapp_webhook and views.twilio_webhook (`<int:…>` is [0-9]+); longer
# ids than a bigint holds are left to Django.
HOOK_PATH = re.compile(r"/hooks/(whatsapp|twilio)/([0-9]{1,18})")
PROVIDER_OF_PATH = {"whatsapp": Inbox.Provider.WHATSAPP_CLOUD, "twilio": Inbox.Provider.TWILIO}
FORM = intake.FORM
CACHE_ENTRIES = 4096
# Connections of a process's own pool: one INSERT takes about a millisecond, so a few carry hundreds
# of webhooks a second.
POOL_MAX_SIZE = 4
# Django's backend options that are not psycopg connection arguments.
DJANGO_ONLY_OPTIONS = ("pool", "isolation_level", "assume_role", "server_side_binding")

DOMAIN_QUERY = sql.SQL(
    "SELECT c.id, c.schema_name, d.kind FROM {public}.tenants_domain d"
    " JOIN {public}.tenants_company c ON c.id = d.tenant_id"
    " WHERE d.domain = %s AND d.verified_at IS NOT NULL AND c.schema_name <> %s"
)
INBOX_QUERY = sql.SQL(
    "SELECT credentials_encrypted FROM {schema}.inboxes_inbox WHERE id = %s AND provider = %s AND is_active"
)
# One statement that re-checks everything the caches hold: a domain removed or unverified, an inbox
# deactivated or its credentials replaced since they were cached insert nothing.
INSERT_EVENT = sql.SQL(
    "INSERT INTO {schema}.inboxes_webhookevent"
    " (inbox_id, body, content_type, send_key, status, attempts, error, received_at)"
    " SELECT i.id, %(body)s, %(content_type)s, %(send_key)s, %(status)s, 0, '', now()"
    " FROM {schema}.inboxes_inbox i"
    " WHERE i.id = %(inbox_id)s AND i.is_active AND i.provider = %(provider)s"
    " AND i.credentials_encrypted = %(credentials)s"
    " AND EXISTS (SELECT 1 FROM {public}.tenants_domain d JOIN {public}.tenants_company c"
    " ON c.id = d.tenant_id WHERE d.domain = %(host)s AND d.tenant_id = %(company_id)s"
    " AND c.schema_name = %(schema_name)s AND d.verified_at IS NOT NULL)"
    " RETURNING id"
)


@dataclass(frozen=True)
class CachedTenant:
    company_id: int
    schema: str
    insert: sql.Composed


@dataclass(frozen=True)
class CachedInbox:
    provider: Provider
    credentials_encrypted: str


class LRU:
    def __init__(self, size: int):
        self.size = size
        self.entries = OrderedDict()

    def get(self, key):
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def drop(self, key) -> None:
        self.entries.pop(key, None)


class WebhookFastPath:
    """ASGI wrapper around Django's HTTP application for provider webhooks.

    It answers a webhook itself only once it has stored it, which it does only when Django would
    have stored it and answered 200; anything else (an unknown host, a bad signature, an error) goes
    to Django with the body it already read, so every refusal is Django's own answer. Per process it
    keeps hosts and inbox credentials in memory, and its own database pool and Redis client.
    """

    def __init__(self, app, *, database: dict | None = None):
        self.app = app
        self.database = database  # a DATABASES entry; settings.DATABASES["default"] unless given
        self.tenants = LRU(CACHE_ENTRIES)
        self.inboxes = LRU(CACHE_ENTRIES)
        self._loop = None
        self._pool = None
        self._redis = None

    async def __call__(self, scope, receive, send):
        route = candidate(scope)
        if route is None:
            return await self.app(scope, receive, send)
        meta = request_meta(scope)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and not declared_length_within(meta, limit):
            return await self.app(scope, receive, send)
        body, complete = await read_body(receive, limit)
        if body is None:  # the client left; Django would not answer either
            return
        if complete and (limit is None or len(body) <= limit):
            try:
                answer = await self.store(scope, route, meta, body)
            except Exception:
                logger.exception("webhook fast path failed on %s; Django takes the request", scope["path"])
                answer = None
            if answer is not None:
                return await respond(send, answer)
        await self.app(scope, replay(body, complete, receive), send)

    async def store(self, scope, route, meta: dict, body: bytes) -> intake.Answer | None:
        """Store the webhook and return the answer, or None (nothing stored) to leave it to Django."""
        read = read_webhook(scope, route, meta, body)
        if read is None:
            return None
        host, webhook = read
        await self._connect()
        tenant = self.tenants.get(host) or await self._load_tenant(host)
        if tenant is None:
            return None
        inbox_key = (tenant.schema, webhook.inbox_id)
        inbox = self.inboxes.get(inbox_key)
        if inbox is None or not intake.verified(inbox.provider, webhook):
            # Not cached, or cached before its credentials were replaced (new ones apply at once).
            inbox = await self._load_inbox(tenant, webhook, stale=inbox)
            if inbox is None or not intake.verified(inbox.provider, webhook):
                return None
        try:
            intake.check_usable(inbox.provider, webhook)
        except intake.Refused:
            return None  # Django gives the same verdict, as a §13 body
        try:
            event_id = await self._insert(tenant, inbox, host, webhook)
        except psycopg.Error:
            self._forget(host, inbox_key)
            raise
        if event_id is None:
            self._forget(host, inbox_key)
            return None
        await self._request_drain(tenant.schema, event_id)
        metrics.inc(metrics.WEBHOOKS_RECEIVED, provider=webhook.provider, door="fast", outcome="stored")
        return intake.RECEIVED[webhook.provider]

    async def _connect(self) -> None:
        """The pool and the Redis client of the running loop (each test may run its own loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            database = self.database or settings.DATABASES["default"]
            self._pool = AsyncConnectionPool(
                kwargs=connection_kwargs(database), min_size=1, max_size=POOL_MAX_SIZE, open=False,
                timeout=database.get("OPTIONS", {}).get("pool", {}).get("timeout", 10),
                name="webhook-fast-path",
            )
            self._redis = redis.asyncio.Redis.from_url(
                settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30,
            )
            self._loop = loop
        if self._pool.closed:
            await self._pool.open()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            await self._redis.aclose()
        self._loop = self._pool = self._redis = None

    async def _fetchone(self, query, params):
        async with self._pool.connection() as connection:
            cursor = await connection.execute(query, params)
            return await cursor.fetchone()

    async def _load_tenant(self, host: str) -> CachedTenant | None:
        public = sql.Identifier(get_public_schema_name())
        row = await self._fetchone(DOMAIN_QUERY.format(public=public), (host, get_public_schema_name()))
        if row is None:
            return None
        company_id, schema, kind = row
        if kind != Domain.Kind.CUSTOM and not is_platform_host(host):
            return None  # HostValidationMiddleware would refuse it (400)
        insert = INSERT_EVENT.format(schema=sql.Identifier(schema), public=public)
        tenant = CachedTenant(company_id, schema, insert)
        self.tenants.put(host, tenant)
        return tenant

    async def _load_inbox(self, tenant: CachedTenant, webhook: intake.Webhook, *, stale: CachedInbox | None):
        query = INBOX_QUERY.format(schema=sql.Identifier(tenant.schema))
        row = await self._fetchone(query, (webhook.inbox_id, webhook.provider))
        if row is None:
            self.inboxes.drop((tenant.schema, webhook.inbox_id))
            return None
        if stale is not None and row[0] == stale.credentials_encrypted:
            return None  # the same credentials: the signature is wrong
        # What provider_for(inbox) builds for these two providers; ValueError (Django: 500) declines.
        provider = get_provider(webhook.provider, crypto.decrypt_json(row[0]))
        inbox = CachedInbox(provider, row[0])
        self.inboxes.put((tenant.schema, webhook.inbox_id), inbox)
        return inbox

    async def _insert(self, tenant: CachedTenant, inbox: CachedInbox, host: str,
                      webhook: intake.Webhook) -> int | None:
        row = await self._fetchone(tenant.insert, {
            "body": webhook.body, **intake.webhook_event_fields(webhook.content_type, webhook.send_key),
            "status": WebhookEvent.Status.PENDING.value, "inbox_id": webhook.inbox_id,
            "provider": webhook.provider, "credentials": inbox.credentials_encrypted,
            "host": host, "company_id": tenant.company_id, "schema_name": tenant.schema,
        })
        return row[0] if row else None

    async def _request_drain(self, schema: str, event_id: int) -> None:
        """intake.request_drain without blocking the loop; the event is stored whatever happens."""
        try:
            if await intake.drain_flag_set(self._redis, schema, event_id):
                await asyncio.to_thread(intake.announce_stored, schema, event_id)
        except Exception:
            logger.exception(intake.DRAIN_REQUEST_FAILED, event_id)

    def _forget(self, host: str, inbox_key) -> None:
        self.tenants.drop(host)
        self.inboxes.drop(inbox_key)


def candidate(scope) -> tuple[str, int] | None:
    """(provider, inbox id) for a request the fast path may take, from the scope alone."""
    if scope["type"] != "http" or scope["method"] != "POST" or HUEY.immediate:
        return None
    # A script prefix, forced "www." or a refused user agent make Django route or answer otherwise.
    if scope.get("root_path") or settings.FORCE_SCRIPT_NAME or settings.PREPEND_WWW \
            or settings.DISALLOWED_USER_AGENTS:
        return None
    match = HOOK_PATH.fullmatch(scope["path"])
    if match is None:
        return None
    return PROVIDER_OF_PATH[match[1]], int(match[2])


def request_meta(scope) -> dict[str, str]:
    """The headers as ASGIRequest puts them in META: names with "_" dropped, repeats comma-joined."""
    headers = defaultdict(list)
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin1")
        if "_" in name:
            continue
        if name in ("content-length", "content-type"):
            key = name.upper().replace("-", "_")
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        headers[key].append(raw_value.decode("latin1"))
    return {key: ",".join(values) for key, values in headers.items()}


def declared_length_within(meta: dict, limit: int) -> bool:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0) <= limit
    except ValueError:
        return False


async def read_body(receive, limit: int | None) -> tuple[bytes | None, bool]:
    """(body, complete); the body read so far, incomplete once past `limit`; (None, False) when the
    client disconnected."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if limit is not None and size > limit:
            return b"".join(chunks), False


def replay(body: bytes, complete: bool, receive):
    """`receive` for Django: what was read first, then the rest of the connection's messages."""
    pending = [{"type": "http.request", "body": body, "more_body": not complete}]

    async def receive_again():
        if pending:
            return pending.pop()
        return await receive()

    return receive_again


async def respond(send, answer: intake.Answer) -> None:
    await send({
        "type": "http.response.start",
        "status": answer.status,
        "headers": [(b"content-type", answer.content_type.encode()),
                    (b"content-length", str(len(answer.body)).encode())],
    })
    await send({"type": "http.response.body", "body": answer.body})


def read_webhook(scope, route, meta: dict, body: bytes) -> tuple[str, intake.Webhook] | None:
    """(the host the tenant middleware looks up, the request as intake.webhook_from_request reads
    it), or None when Django could read it otherwise or refuse it before or in the view (a host it
    refuses, an HTTPS redirect, an unreadable query string, a form intake refuses)."""
    provider, inbox_id = route
    host = tenant_host(meta)
    if host is None:
        return None
    raw_host, hostname = host
    scheme = request_scheme(scope, meta)
    if settings.SECURE_SSL_REDIRECT and scheme != "https":
        return None
    try:
        query_string = scope.get("query_string", b"").decode()  # ASGIRequest: 400 if not UTF-8
    except UnicodeDecodeError:
        return None
    content_type, params = parse_header_parameters(meta.get("CONTENT_TYPE", ""))
    form, send_key = None, ""
    if provider == Inbox.Provider.TWILIO:
        # Django fills request.POST from this type only, and refuses another charset.
        if content_type != FORM or params.get("charset", "utf-8").lower() != "utf-8":
            return None
        try:
            form = intake.read_form(body)
        except intake.Refused:
            return None
        query = form_fields(query_string)
        if query is None:
            return None
        content_type, send_key = FORM, query.get("send_key", "")
    else:
        content_type = content_type or "application/json"
    # request.build_absolute_uri(), step by step.
    full_path = escape_uri_path(scope["path"]) + (f"?{iri_to_uri(query_string)}" if query_string else "")
    url = iri_to_uri(f"{scheme}://{raw_host}{full_path}")
    return hostname, intake.Webhook(
        provider=provider, inbox_id=inbox_id, url=url, headers=HttpHeaders(meta), body=body,
        form=form, content_type=content_type, send_key=send_key,
    )


def form_fields(text: str) -> dict[str, str] | None:
    """A query string's fields as request.GET.get reads them (each its last value), or None where
    Django answers 400 (too many)."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    except ValueError:
        return None
    return dict(pairs)


def tenant_host(meta: dict) -> tuple[str, str] | None:
    """(the host as sent, the name the tenant middleware looks up) for a company's host, or None
    when Django would read the host differently, refuse it or serve the platform there."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in meta:
        raw = meta["HTTP_X_FORWARDED_HOST"]
    else:
        raw = meta.get("HTTP_HOST")
    if not raw:
        return None
    domain, _port = split_domain_port(raw)
    # The tenant middleware splits at the first ":" and drops "www.": IPv6 literals and www. hosts
    # are Django's.
    if not domain or domain != raw.split(":")[0].lower().rstrip(".") or domain.startswith("www."):
        return None
    if domain == settings.BASE_DOMAIN or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return raw, domain


def request_scheme(scope, meta: dict) -> str:
    """request.scheme: the proxy's header when configured and present, else the connection's."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = meta.get(header)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    return scope.get("scheme") or "http"


def connection_kwargs(database: dict) -> dict:
    """psycopg connection arguments for a DATABASES entry, as Django's backend derives them."""
    options = {key: value for key, value in database.get("OPTIONS", {}).items()
               if key not in DJANGO_ONLY_OPTIONS}
    kwargs = {"dbname": database["NAME"], **options, "client_encoding": "UTF8", "autocommit": True,
              # Off unless configured, like Django's: poolers in transaction mode lose prepared statements.
              "prepare_threshold": options.get("prepare_threshold")}
    for setting, argument in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if database.get(setting):
            kwargs[argument] = database[setting]
    return kwargs
