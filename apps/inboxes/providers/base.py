"""The one interface every messaging provider implements, and the values it speaks in.

Providers are small, stateless clients: they know the provider's wire formats (requests, responses,
webhooks, signatures) and nothing of our models. Services and tasks call them.
"""

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

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


@dataclass(frozen=True)
class WebhookBatch:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


class Provider(ABC):
    """A provider client for one inbox, built from that inbox's decrypted credentials."""

    name: str = ""

    def __init__(self, credentials: Mapping, *, http: httpx.Client | None = None):
        self.credentials = dict(credentials)
        self.http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))

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
