"""The one interface every messaging provider implements, and the values it speaks in.

Providers are small, stateless clients: they know the provider's wire formats (requests, responses,
webhooks, signatures) and nothing of our models. Services and tasks call them.
"""

import atexit
import datetime as dt
import email.utils
import hmac
import math
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

from conversa.netguard import UnresolvableHost, UnsafeOutboundURL, check_outbound_url

# Message kinds shared with apps.conversations.
TEXT, IMAGE, VIDEO, AUDIO, DOCUMENT, LOCATION, CONTACT_CARD, TEMPLATE, INTERACTIVE = (
    "text", "image", "video", "audio", "document", "location", "contact_card", "template",
    "interactive",
)
# Delivery statuses, in the only order a message may move through them ("failed" from any).
SENT, DELIVERED, READ, FAILED = "sent", "delivered", "read", "failed"


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class ProviderError(Exception):
    """A send or download the provider refused or could not take.

    `retryable` is True for throttling (429), server errors (5xx) and network failures; then
    `retry_after` (seconds) carries the provider's hint when it gave one.
    """

    def __init__(self, message: str, *, retryable: bool, code: str = "", status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.maybe_delivered = False
        self.code = code
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class InboundMessage:
    provider_message_id: str
    from_phone: str  # E.164, with "+"
    profile_name: str
    kind: str
    text: str
    timestamp: dt.datetime
    media_ref: str = ""  # Meta: the media id; Twilio: the MediaUrl0 URL
    media_mime: str = ""
    media_filename: str = ""
    reply_to_provider_id: str = ""
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    status: str  # SENT, DELIVERED, READ or FAILED
    timestamp: dt.datetime
    error_code: str = ""
    error_message: str = ""
    send_key: str = ""  # our idempotency key when the provider echoes it (Meta's biz_opaque_callback_data)


@dataclass(frozen=True)
class WebhookBatch:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


class Provider(ABC):
    """A provider client for one inbox, built from that inbox's decrypted credentials."""

    name: str = ""
    # Credential fields without which the client cannot work; checked when it is built.
    required_credentials: tuple[str, ...] = ()

    def __init__(self, credentials: Mapping, *, http: httpx.Client | None = None):
        self.credentials = dict(credentials)
        missing = [key for key in self.required_credentials if not self.credentials.get(key)]
        if missing:
            raise ValueError(f"{self.name} credentials lack {', '.join(missing)}")
        self._http = http

    @property
    def http(self) -> httpx.Client:
        """The client given at construction, else the process's shared one.

        Providers are built per webhook and per send; a client of their own would cost each of them
        the CA bundle load (~80 ms) and a fresh TLS handshake, and leave sockets for the GC.
        """
        return self._http or shared_http_client()

    @abstractmethod
    def verify_signature(self, *, body: bytes, headers: Mapping[str, str], url: str,
                         form: Mapping[str, str] | None = None) -> bool:
        """True if the webhook request really comes from the provider (constant-time compare)."""

    def verify_subscription(self, params: Mapping[str, str]) -> str | None:
        """The challenge to echo for a webhook verification request, or None to refuse it."""
        return None

    @abstractmethod
    def parse_webhook(self, *, body: bytes, content_type: str) -> WebhookBatch:
        """Messages and statuses in a webhook body (already verified)."""

    @abstractmethod
    def send_text(self, *, to: str, text: str, send_key: str, reply_to: str = "") -> SendResult:
        """Send a free-form text. `send_key` identifies our message in status callbacks."""

    @abstractmethod
    def send_template(self, *, to: str, name: str, language: str, variables: list[str],
                      send_key: str) -> SendResult:
        """Send an approved template with its body variables ({{1}}, {{2}}, …)."""

    @abstractmethod
    def send_media(self, *, to: str, kind: str, url: str, send_key: str, caption: str = "",
                   filename: str = "") -> SendResult:
        """Send media the provider fetches from `url` (a signed, short-lived URL of ours)."""

    def download_media(self, media_ref: str) -> tuple[bytes, str]:
        """The bytes and declared MIME type of an inbound media reference."""
        raise ProviderError("this provider has no inbound media", retryable=False)


# --- helpers for provider implementations ----------------------------------------------------------

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Transport errors raised once the request has gone out (while waiting for or reading the answer).
AFTER_SEND_ERRORS = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)
_shared_client: tuple[int, httpx.Client] | None = None
_shared_client_lock = threading.Lock()


def shared_http_client() -> httpx.Client:
    """One pooled, thread-safe HTTP client per process, made on first use.

    Keyed by process id: a worker forked after the parent used it must not share its sockets.
    """
    global _shared_client
    with _shared_client_lock:
        if _shared_client is None or _shared_client[0] != os.getpid():
            client = httpx.Client(timeout=DEFAULT_TIMEOUT)
            atexit.register(client.close)
            _shared_client = (os.getpid(), client)
        return _shared_client[1]


_NOT_DIGITS = re.compile(r"\D")
# Django's DATA_UPLOAD_MAX_NUMBER_FIELDS default: a provider's form never comes near it.
MAX_FORM_FIELDS = 1000


class RepeatedField(ValueError):
    """A form names a field twice."""


def form_fields(body: bytes, *, max_fields: int = MAX_FORM_FIELDS) -> dict[str, str]:
    """The fields of a form-encoded body, each named once; raises ValueError (RepeatedField for a
    field sent twice, or too many fields).

    A signature check and a parser reading different values of one field (the last and the first)
    let anyone prepend fields to a validly signed form: one reading, for both, with no repeats.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("iso-8859-1")  # as Django's QueryDict does
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields):
        if name in fields:
            raise RepeatedField(f"the form field {name!r} is repeated")
        fields[name] = value
    return fields


def e164(phone: str) -> str:
    """A phone number as "+" and digits, whatever punctuation or channel prefix it came with."""
    return "+" + _NOT_DIGITS.sub("", phone)


def secrets_equal(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two secrets; False when either is missing or empty."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def header_value(headers: Mapping[str, str], name: str) -> str:
    """A header by name, case-insensitively, from any mapping (Django's request.headers or a dict)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def is_retryable_status(status: int) -> bool:
    """Throttling and server errors are worth retrying; other refusals will not change."""
    return status == 429 or status >= 500


def unix_to_datetime(value: str | int | float | None) -> dt.datetime:
    """An aware UTC datetime from unix seconds (as providers send them), or now if absent."""
    if value in (None, ""):
        return dt.datetime.now(dt.UTC)
    try:
        return dt.datetime.fromtimestamp(int(float(value)), tz=dt.UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"not a unix timestamp: {value!r}") from exc


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class HttpProvider(Provider):
    """A provider reached over HTTP, behind the outbound-address guard (SPEC §12).

    The base URL comes from the inbox's credentials (tests and some deployments point it elsewhere),
    so it is checked before the first request of each client; any other URL (media, redirects) is
    checked before every request to it.
    """

    _base_url_checked = False

    @property
    @abstractmethod
    def base_url(self) -> str:
        """Where the provider's API lives, without a trailing slash."""

    def _guard(self, url: str) -> None:
        same_origin = _origin(url) == _origin(self.base_url)
        if same_origin and self._base_url_checked:
            return
        try:
            check_outbound_url(url)
        except UnresolvableHost as exc:
            raise ProviderError(f"{self.name}: {exc}", retryable=True, code="dns_error") from exc
        except UnsafeOutboundURL as exc:
            raise ProviderError(f"{self.name}: refused to connect: {exc}", retryable=False,
                                code="outbound_url_refused") from exc
        if same_origin:
            self._base_url_checked = True

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One request after the guard; network failures become retryable ProviderErrors.

        The response is returned whatever its status: each provider reads its own error bodies.
        """
        self._guard(url)
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # Timeouts and refused connections included. The message names the failure, never the
            # request, whose headers carry credentials.
            error = ProviderError(f"{self.name}: network error ({exc.__class__.__name__}: {exc})",
                                  retryable=True, code="network_error")
            # Failing while reading the answer, the request itself went out: the provider may have
            # acted on it (a send resent now could reach the customer twice).
            error.maybe_delivered = isinstance(exc, AFTER_SEND_ERRORS)
            raise error from exc

    def get_following_redirects(self, url: str, *, max_redirects: int = 5, **kwargs) -> httpx.Response:
        """GET `url`, following redirects by hand so that every hop passes the guard.

        Credentials in `kwargs` (auth, headers) go with the first request only: media redirects lead
        to pre-signed CDN URLs, which must not receive our credentials (and may refuse them).
        """
        response = self.request("GET", url, follow_redirects=False, **kwargs)
        for _ in range(max_redirects):
            location = response.headers.get("Location")
            if not (response.is_redirect and location):
                return response
            response.close()
            response = self.request("GET", urljoin(str(response.url), location), follow_redirects=False)
        raise ProviderError(f"{self.name}: too many redirects", retryable=False, code="too_many_redirects")
