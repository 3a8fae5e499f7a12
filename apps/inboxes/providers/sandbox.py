"""The built-in simulated provider: someone plays the customer over HTTP, and nothing leaves the server.

Inbound: `POST /hooks/sandbox/{inbox_id}` with `X-Sandbox-Token` and `{from, name?, text?, media_url?,
id?}`. Outbound sends succeed at once with a made-up id; the service layer keeps them for the
inbox's sandbox outbox.

Receipts: the customer's phone acknowledging one of the company's messages is the body
`{"status": "delivered" | "read", "id": "<provider_message_id>"}` (the id the send returned). It is
applied like a Meta or Twilio status callback: a later status never moves a message backwards, and a
"read" implies "delivered". The sandbox customer page (`/app/sandbox/`) sends these.
"""

import datetime as dt
import json
import mimetypes
import re
import uuid
from collections.abc import Mapping
from posixpath import basename
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from apps.inboxes.providers.base import (
    DELIVERED,
    DOCUMENT,
    IMAGE,
    READ,
    TEXT,
    InboundMessage,
    Provider,
    SendResult,
    StatusUpdate,
    WebhookBatch,
    header_value,
    secrets_equal,
)

PHONE = re.compile(r"^\+\d{8,15}$")
RECEIPT_STATUSES = (DELIVERED, READ)


class SandboxProvider(Provider):
    name = "sandbox"
    required_credentials = ("sandbox_token",)

    def verify_signature(self, *, body: bytes, headers: Mapping[str, str], url: str,
                         form: Mapping[str, str] | None = None) -> bool:
        return secrets_equal(header_value(headers, "X-Sandbox-Token"), self.credentials["sandbox_token"])

    def parse_webhook(self, *, body: bytes, content_type: str) -> WebhookBatch:
        """One inbound message, or one receipt (a body with "status"). Raises ValueError, with a
        message for the person playing the customer, when the body is not what the sandbox accepts."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ValueError(_("The body must be JSON.")) from exc
        if not isinstance(data, dict):
            raise ValueError(_("The body must be a JSON object."))
        if "status" in data:
            return _receipt(data)
        phone = data.get("from")
        if not isinstance(phone, str) or not PHONE.match(phone):
            raise ValueError(_("'from' must be a phone number in E.164 form: '+' and 8 to 15 digits."))
        for key in ("name", "text", "media_url", "id"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(_("'%(key)s' must be a string.") % {"key": key})
        text, media_url = data.get("text") or "", data.get("media_url") or ""
        if not text and not media_url:
            raise ValueError(_("A sandbox message needs 'text' or 'media_url'."))
        if media_url and urlsplit(media_url).scheme not in ("http", "https"):
            raise ValueError(_("'media_url' must be an http or https URL."))

        kind, mime, filename = TEXT, "", ""
        if media_url:
            path = urlsplit(media_url).path
            mime = mimetypes.guess_type(path)[0] or ""
            kind = IMAGE if mime.startswith("image/") else DOCUMENT
            filename = basename(path) if kind == DOCUMENT else ""
        return WebhookBatch(messages=[InboundMessage(
            provider_message_id=data.get("id") or f"sbx_in_{uuid.uuid4().hex}",
            from_phone=phone,
            profile_name=data.get("name") or "",
            kind=kind,
            text=text,
            timestamp=dt.datetime.now(dt.UTC),
            media_ref=media_url,
            media_mime=mime,
            media_filename=filename,
            raw=data,
        )])

    def send_text(self, *, to: str, text: str, send_key: str, reply_to: str = "") -> SendResult:
        return _sent()

    def send_template(self, *, to: str, name: str, language: str, variables: list[str],
                      send_key: str) -> SendResult:
        return _sent()

    def send_media(self, *, to: str, kind: str, url: str, send_key: str, caption: str = "",
                   filename: str = "") -> SendResult:
        return _sent()


def _receipt(data: dict) -> WebhookBatch:
    status, message_id = data.get("status"), data.get("id")
    if status not in RECEIPT_STATUSES:
        raise ValueError(_("'status' must be 'delivered' or 'read'."))
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValueError(_("'id' must be the provider message id of a message the company sent."))
    return WebhookBatch(statuses=[StatusUpdate(
        provider_message_id=message_id.strip(), status=status, timestamp=dt.datetime.now(dt.UTC),
    )])


def _sent() -> SendResult:
    return SendResult(f"sbx_{uuid.uuid4().hex}")
