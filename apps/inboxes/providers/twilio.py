"""Twilio's Messages API (WhatsApp and SMS): sends, webhook signatures and parsing, media downloads."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from apps.inboxes.providers.base import (
    AUDIO,
    DELIVERED,
    DOCUMENT,
    FAILED,
    IMAGE,
    LOCATION,
    READ,
    SENT,
    TEXT,
    VIDEO,
    HttpProvider,
    InboundMessage,
    ProviderError,
    SendResult,
    StatusUpdate,
    WebhookBatch,
    e164,
    form_fields,
    header_value,
    is_retryable_status,
    parse_retry_after,
    secrets_equal,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
RATE_LIMITED = "20429"
# Status callback states. The others (accepted, scheduled, queued, sending, canceled) are steps before
# a message leaves Twilio, not delivery states.
STATUSES = {"sent": SENT, "delivered": DELIVERED, "read": READ, "failed": FAILED, "undelivered": FAILED}
INBOUND_STATES = {"received", "receiving"}
DEFAULT_PORTS = {"http": 80, "https": 443}


class TwilioProvider(HttpProvider):
    name = "twilio"
    required_credentials = ("account_sid", "auth_token", "from_number")

    @property
    def base_url(self) -> str:
        return (self.credentials.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.credentials['account_sid']}/Messages.json"

    @property
    def _auth(self) -> tuple[str, str]:
        return self.credentials["account_sid"], self.credentials["auth_token"]

    def _address(self, phone: str) -> str:
        """`phone` on the channel of our number: "whatsapp:+…" when from_number is "whatsapp:+…"."""
        channel, separator, _ = self.credentials["from_number"].rpartition(":")
        return f"{channel}{separator}{e164(phone)}"

    # --- webhooks -------------------------------------------------------------------------------

    def verify_signature(self, *, body: bytes, headers: Mapping[str, str], url: str,
                         form: Mapping[str, str] | None = None) -> bool:
        """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL it called, then each POST
        parameter name (sorted) followed by its value. Like Twilio's own validators, the URL is tried
        with and without the scheme's default port, since proxies may add or drop it."""
        given = header_value(headers, "X-Twilio-Signature")
        if not given:
            return False
        if form is None:
            try:
                form = form_fields(body)
            except ValueError:
                return False  # a repeated field: see form_fields
        return any([secrets_equal(given, self._signature(variant, form)) for variant in _url_variants(url)])

    def _signature(self, url: str, params: Mapping[str, str]) -> str:
        payload = url + "".join(key + params[key] for key in sorted(params))
        digest = hmac.new(self.credentials["auth_token"].encode(), payload.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def parse_webhook(self, *, body: bytes, content_type: str) -> WebhookBatch:
        """An inbound message (one per media item) or a status callback, told apart by their status."""
        params = form_fields(body)  # the reading the signature was checked over; ValueError on repeats
        state = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        if state in INBOUND_STATES or (not state and ("Body" in params or "NumMedia" in params)):
            return WebhookBatch(messages=_inbound(params))
        if state in STATUSES:
            failed = STATUSES[state] == FAILED
            sid = params.get("MessageSid") or params.get("SmsSid")
            if not sid:
                raise ValueError("a twilio status callback needs MessageSid")
            return WebhookBatch(statuses=[StatusUpdate(
                provider_message_id=sid,
                status=STATUSES[state],
                timestamp=_now(),  # Twilio sends no time with its callbacks
                error_code=params.get("ErrorCode", "") if failed else "",
                error_message=params.get("ErrorMessage", "") if failed else "",
            )])
        if state:
            logger.debug("ignoring a twilio callback in state %r", state)
        return WebhookBatch()

    # --- sends ------------------------------------------------------------------------------------

    def send_text(self, *, to: str, text: str, send_key: str, reply_to: str = "") -> SendResult:
        # Twilio's API cannot quote a message, so `reply_to` has nowhere to go; status callbacks carry
        # the MessageSid we return, so `send_key` is not sent either.
        return self._send(to, {"Body": text})

    def send_template(self, *, to: str, name: str, language: str, variables: list[str],
                      send_key: str) -> SendResult:
        # Templates are Content API items: `name` is the Content SID (HX…), one per language.
        form = {"ContentSid": name}
        if variables:
            form["ContentVariables"] = json.dumps({str(i): value for i, value in enumerate(variables, 1)})
        return self._send(to, form)

    def send_media(self, *, to: str, kind: str, url: str, send_key: str, caption: str = "",
                   filename: str = "") -> SendResult:
        # Twilio names the file from the URL; it has no filename field.
        form = {"MediaUrl": url}
        if caption:
            form["Body"] = caption
        return self._send(to, form)

    def _send(self, to: str, form: dict[str, str]) -> SendResult:
        data = {"To": self._address(to), "From": self.credentials["from_number"], **form}
        if self.credentials.get("webhook_url"):
            data["StatusCallback"] = self.credentials["webhook_url"]
        response = self.request("POST", self.messages_url, data=data, auth=self._auth)
        if response.status_code not in (200, 201):
            raise self._error(response)
        try:
            return SendResult(str(response.json()["sid"]))
        except (ValueError, KeyError, TypeError) as exc:
            # Twilio took the request; retrying could send twice.
            raise ProviderError("twilio: the send response has no message sid", retryable=False,
                                code="bad_response", status=response.status_code) from exc

    # --- media --------------------------------------------------------------------------------------

    def download_media(self, media_ref: str) -> tuple[bytes, str]:
        """The bytes at a MediaUrl. Twilio answers with a redirect to its CDN, which we follow."""
        # Our credentials go only to Twilio itself, never to whatever host a media URL names.
        auth = self._auth if self._is_twilio(media_ref) else None
        response = self.get_following_redirects(media_ref, auth=auth)
        if response.status_code != 200:
            raise self._error(response)
        return response.content, response.headers.get("Content-Type", "").split(";")[0].strip()

    def _is_twilio(self, url: str) -> bool:
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port):
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com"))

    # --- errors -------------------------------------------------------------------------------------

    def _error(self, response: httpx.Response) -> ProviderError:
        """A ProviderError from Twilio's `{"code", "message", "more_info", "status"}` body."""
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        code = "" if data.get("code") is None else str(data["code"])
        message = str(data.get("message") or response.reason_phrase or "error")
        message = message.replace(self.credentials["auth_token"], "[token]")
        retryable = is_retryable_status(response.status_code) or code == RATE_LIMITED
        return ProviderError(
            f"twilio: {message} (HTTP {response.status_code}, code {code or 'none'})",
            retryable=retryable, code=code, status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")) if retryable else None,
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _url_variants(url: str) -> Iterable[str]:
    """`url` as given, and with its scheme's default port added or removed."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    variants = [url]
    if default is not None and parts.hostname:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        userinfo = parts.netloc.rpartition("@")[0]
        prefix = f"{userinfo}@" if userinfo else ""
        if parts.port is None:
            variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
        elif parts.port == default:
            variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}")))
    return variants


def _media_kind(mime: str) -> str:
    major = mime.split("/")[0].lower()
    return {"image": IMAGE, "video": VIDEO, "audio": AUDIO}.get(major, DOCUMENT)


def _inbound(params: Mapping[str, str]) -> list[InboundMessage]:
    """The inbound message; with several media items (MMS), one message per item after the first."""
    sid = params.get("MessageSid") or params.get("SmsMessageSid")
    if not sid or not params.get("From"):
        raise ValueError("a twilio inbound message needs MessageSid and From")
    common = {
        "from_phone": e164(params["From"]),
        "profile_name": params.get("ProfileName", ""),
        "timestamp": _now(),
        "reply_to_provider_id": params.get("OriginalRepliedMessageSid", ""),
        "raw": dict(params),
    }
    text = params.get("Body") or params.get("ButtonText") or ""
    if params.get("Latitude") and params.get("Longitude"):
        text = "\n".join(filter(None, [f"{params['Latitude']},{params['Longitude']}", params.get("Label", ""),
                                       params.get("Address", "")]))
        return [InboundMessage(provider_message_id=sid, kind=LOCATION, text=text, **common)]
    try:
        num_media = int(params.get("NumMedia") or 0)
    except ValueError:
        num_media = 0
    if num_media == 0:
        return [InboundMessage(provider_message_id=sid, kind=TEXT, text=text, **common)]
    messages = []
    for index in range(num_media):
        mime = params.get(f"MediaContentType{index}", "")
        messages.append(InboundMessage(
            # Each item needs its own id: provider ids are unique per inbox.
            provider_message_id=sid if index == 0 else f"{sid}-{index}",
            kind=_media_kind(mime),
            text=text if index == 0 else "",
            media_ref=params.get(f"MediaUrl{index}", ""),
            media_mime=mime,
            **common,
        ))
    return messages
