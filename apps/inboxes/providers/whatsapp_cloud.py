"""Meta's WhatsApp Cloud API: sends, webhook signatures and parsing, and inbound media downloads."""

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from apps.inboxes.providers.base import (
    AUDIO,
    CONTACT_CARD,
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
    header_value,
    is_retryable_status,
    parse_retry_after,
    secrets_equal,
    unix_to_datetime,
)

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
# Throttling codes Meta answers with (sometimes on an HTTP 400): 130429 throughput, 131048 spam rate
# limit, 131056 too many messages to one user, 80007 the business account's rate limit.
RETRYABLE_CODES = {"130429", "131048", "131056", "80007"}
MEDIA_KINDS = {"image": IMAGE, "video": VIDEO, "audio": AUDIO, "document": DOCUMENT, "sticker": IMAGE}
STATUSES = {"sent": SENT, "delivered": DELIVERED, "read": READ, "failed": FAILED}


class WhatsAppCloudProvider(HttpProvider):
    name = "whatsapp_cloud"
    required_credentials = ("phone_number_id", "access_token", "app_secret")

    @property
    def base_url(self) -> str:
        return (self.credentials.get("graph_base_url") or DEFAULT_GRAPH_BASE_URL).rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/{self.credentials.get('api_version') or DEFAULT_API_VERSION}"

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['access_token']}"}

    # --- webhooks -------------------------------------------------------------------------------

    def verify_signature(self, *, body: bytes, headers: Mapping[str, str], url: str,
                         form: Mapping[str, str] | None = None) -> bool:
        given = header_value(headers, "X-Hub-Signature-256")
        digest = hmac.new(self.credentials["app_secret"].encode(), body, hashlib.sha256).hexdigest()
        expected = f"sha256={digest}"
        return secrets_equal(given, expected)

    def verify_subscription(self, params: Mapping[str, str]) -> str | None:
        if params.get("hub.mode") != "subscribe":
            return None
        if not secrets_equal(params.get("hub.verify_token"), self.credentials.get("verify_token")):
            return None
        return params.get("hub.challenge") or None

    def parse_webhook(self, *, body: bytes, content_type: str) -> WebhookBatch:
        """Every message and status in every entry and change. Unknown or malformed items are skipped
        (and logged) so that one odd item never loses the rest of the batch."""
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("a Meta webhook body is a JSON object")
        batch = WebhookBatch()
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                if change.get("field") != "messages":
                    continue
                value = change.get("value") or {}
                names = {contact.get("wa_id"): (contact.get("profile") or {}).get("name", "")
                         for contact in value.get("contacts") or []}
                for message in value.get("messages") or []:
                    parsed = _skip_malformed(_inbound, message, names)
                    if parsed is not None:
                        batch.messages.append(parsed)
                for status in value.get("statuses") or []:
                    parsed = _skip_malformed(_status, status)
                    if parsed is not None:
                        batch.statuses.append(parsed)
        return batch

    # --- sends ------------------------------------------------------------------------------------

    def send_text(self, *, to: str, text: str, send_key: str, reply_to: str = "") -> SendResult:
        message = {"type": "text", "text": {"preview_url": False, "body": text}}
        if reply_to:
            message["context"] = {"message_id": reply_to}
        return self._send(to, message, send_key)

    def send_template(self, *, to: str, name: str, language: str, variables: list[str],
                      send_key: str) -> SendResult:
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if variables:
            template["components"] = [{
                "type": "body",
                "parameters": [{"type": "text", "text": value} for value in variables],
            }]
        return self._send(to, {"type": "template", "template": template}, send_key)

    def send_media(self, *, to: str, kind: str, url: str, send_key: str, caption: str = "",
                   filename: str = "") -> SendResult:
        if kind not in (IMAGE, VIDEO, AUDIO, DOCUMENT):
            raise ProviderError(f"whatsapp_cloud cannot send media of kind {kind!r}", retryable=False,
                                code="unsupported_media_kind")
        media: dict[str, str] = {"link": url}
        # Meta refuses captions on audio and filenames on anything but documents.
        if caption and kind != AUDIO:
            media["caption"] = caption
        if filename and kind == DOCUMENT:
            media["filename"] = filename
        return self._send(to, {"type": kind, kind: media}, send_key)

    def _send(self, to: str, message: dict[str, Any], send_key: str) -> SendResult:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": e164(to)[1:],
                **message, "biz_opaque_callback_data": send_key}
        url = f"{self.api_url}/{self.credentials['phone_number_id']}/messages"
        response = self.request("POST", url, json=body, headers=self._auth)
        data = self._json_or_raise(response)
        try:
            return SendResult(str(data["messages"][0]["id"]))
        except (KeyError, IndexError, TypeError) as exc:
            # Meta took the request; retrying could send twice.
            raise ProviderError("whatsapp_cloud: the send response has no message id", retryable=False,
                                code="bad_response", status=response.status_code) from exc

    # --- media --------------------------------------------------------------------------------------

    def download_media(self, media_ref: str) -> tuple[bytes, str]:
        info = self._json_or_raise(self.request("GET", f"{self.api_url}/{media_ref}", headers=self._auth))
        if not isinstance(info, dict) or not info.get("url"):
            raise ProviderError("whatsapp_cloud: the media response has no URL", retryable=False,
                                code="bad_response")
        # The media URL (lookaside.fbsbx.com in production) wants the same bearer token.
        response = self.get_following_redirects(info["url"], headers=self._auth)
        if response.status_code != 200:
            raise self._error(response)
        mime = info.get("mime_type") or response.headers.get("Content-Type", "")
        return response.content, mime.split(";")[0].strip()

    # --- errors -------------------------------------------------------------------------------------

    def _json_or_raise(self, response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise self._error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError("whatsapp_cloud: the response is not JSON", retryable=False,
                                code="bad_response", status=response.status_code) from exc

    def _error(self, response: httpx.Response) -> ProviderError:
        """A ProviderError from Meta's `{"error": {"message", "type", "code", ...}}` body."""
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        code = "" if error.get("code") is None else str(error["code"])
        message = str(error.get("message") or response.reason_phrase or "error")
        # Meta does not echo tokens, but a proxy in between might: never let one reach a log.
        message = message.replace(self.credentials["access_token"], "[token]")
        retryable = is_retryable_status(response.status_code) or code in RETRYABLE_CODES
        return ProviderError(
            f"whatsapp_cloud: {message} (HTTP {response.status_code}, code {code or 'none'})",
            retryable=retryable, code=code, status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")) if retryable else None,
        )


def _skip_malformed(parse, item: Any, *args):
    try:
        return parse(item, *args)
    except (KeyError, TypeError, ValueError, AttributeError):
        logger.warning("skipping a malformed whatsapp_cloud webhook item", exc_info=True)
        return None


def _inbound(message: dict[str, Any], names: dict[str, str]) -> InboundMessage | None:
    """One inbound message, or None for types we do not keep (reactions, unsupported, system)."""
    kind = message["type"]
    content = message.get(kind) or {}
    text, media = "", {}
    if kind == "text":
        text = content["body"]
    elif kind in MEDIA_KINDS:
        media = {"media_ref": content["id"], "media_mime": content.get("mime_type", ""),
                 "media_filename": content.get("filename", "")}
        text = content.get("caption", "")
    elif kind == "location":
        text = "\n".join(filter(None, [f"{content['latitude']},{content['longitude']}",
                                       content.get("name", ""), content.get("address", "")]))
    elif kind == "contacts":
        text = "\n".join(_contact_line(card) for card in _content_list(message, "contacts"))
    elif kind == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or content.get("nfm_reply") or {}
        text = reply.get("title") or reply.get("body") or ""
    elif kind == "button":  # a template's quick-reply button
        text = content.get("text") or content.get("payload", "")
    else:
        return None
    wa_id = message["from"]
    return InboundMessage(
        provider_message_id=message["id"],
        from_phone=e164(wa_id),
        profile_name=names.get(wa_id, ""),
        kind={"location": LOCATION, "contacts": CONTACT_CARD}.get(kind, MEDIA_KINDS.get(kind, TEXT)),
        text=text,
        timestamp=unix_to_datetime(message.get("timestamp")),
        reply_to_provider_id=(message.get("context") or {}).get("id", ""),
        raw=message,
        **media,
    )


def _content_list(message: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = message.get(key) or []
    return value if isinstance(value, list) else [value]


def _contact_line(card: dict[str, Any]) -> str:
    name = (card.get("name") or {}).get("formatted_name", "")
    phones = ", ".join(phone.get("phone", "") for phone in card.get("phones") or [])
    return ": ".join(filter(None, [name, phones]))


def _status(status: dict[str, Any]) -> StatusUpdate | None:
    state = STATUSES.get(status["status"])
    if state is None:  # "deleted", "warning" and future states are not delivery states
        return None
    error = (status.get("errors") or [{}])[0]
    return StatusUpdate(
        provider_message_id=status["id"],
        status=state,
        timestamp=unix_to_datetime(status.get("timestamp")),
        error_code=str(error.get("code", "")) if state == FAILED else "",
        error_message=(error.get("title") or error.get("message") or "") if state == FAILED else "",
        send_key=status.get("biz_opaque_callback_data", ""),
    )
