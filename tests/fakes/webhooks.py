"""Inbound webhooks as Meta and Twilio send them, with their signatures, for tests.

Written from the providers' documentation, independently of our provider clients, so a test that
feeds one to the other checks the client against the real format rather than against itself.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

DISPLAY_PHONE_NUMBER = "15550001234"
TWILIO_API_VERSION = "2010-04-01"


def _unix(timestamp: float | None) -> str:
    return str(int(time.time() if timestamp is None else timestamp))


def _wamid() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def meta_envelope(phone_number_id: str, value: dict[str, Any], *, waba_id: str = "102290129340398") -> bytes:
    """The body Meta posts: one entry with one `messages` change carrying `value`."""
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER,
                                 "phone_number_id": phone_number_id},
                    **value,
                },
            }],
        }],
    }).encode()


def meta_message(phone_number_id: str, from_wa_id: str, kind: str, payload: dict[str, Any] | None, *,
                 msg_id: str | None = None, name: str = "Customer", timestamp: float | None = None,
                 context_id: str | None = None) -> bytes:
    """An inbound message of any type: `payload` goes under the key named by `kind`."""
    message: dict[str, Any] = {"from": from_wa_id, "id": msg_id or _wamid(), "timestamp": _unix(timestamp),
                               "type": kind}
    if payload is not None:
        message[kind] = payload
    if context_id:
        message["context"] = {"from": DISPLAY_PHONE_NUMBER, "id": context_id}
    return meta_envelope(phone_number_id, {
        "contacts": [{"profile": {"name": name}, "wa_id": from_wa_id}],
        "messages": [message],
    })


def meta_text_message(phone_number_id: str, from_wa_id: str, text: str, *, msg_id: str | None = None,
                      name: str = "Customer", timestamp: float | None = None,
                      context_id: str | None = None) -> bytes:
    return meta_message(phone_number_id, from_wa_id, "text", {"body": text}, msg_id=msg_id, name=name,
                        timestamp=timestamp, context_id=context_id)


def meta_image_message(phone_number_id: str, from_wa_id: str, media_id: str, mime: str, caption: str = "", *,
                       msg_id: str | None = None, name: str = "Customer", timestamp: float | None = None,
                       context_id: str | None = None) -> bytes:
    image = {"id": media_id, "mime_type": mime, "sha256": secrets.token_hex(32)}
    if caption:
        image["caption"] = caption
    return meta_message(phone_number_id, from_wa_id, "image", image, msg_id=msg_id, name=name,
                        timestamp=timestamp, context_id=context_id)


def meta_status(phone_number_id: str, wamid: str, status: str, *, recipient: str,
                timestamp: float | None = None, error: Mapping[str, Any] | None = None,
                callback_data: str | None = None) -> bytes:
    """A status change. `error` is `{"code": 131026, "title": "..."}` for a failed message."""
    update: dict[str, Any] = {"id": wamid, "status": status, "timestamp": _unix(timestamp),
                              "recipient_id": recipient}
    if status != "failed":
        update["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        update["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if callback_data is not None:
        update["biz_opaque_callback_data"] = callback_data
    if error is not None:
        code = error["code"]
        title = error.get("title", "Message failed to send")
        update["errors"] = [{
            "code": code, "title": title, "message": error.get("message", title),
            "error_data": {"details": error.get("details", title)},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }]
    return meta_envelope(phone_number_id, {"statuses": [update]})


def meta_signature(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header value for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _whatsapp(number: str, channel: str) -> str:
    return f"{channel}:{number}" if channel else number


def twilio_message_params(account_sid: str, from_phone: str, to_phone: str, body: str = "", *,
                          message_sid: str | None = None, profile_name: str = "Customer",
                          media: list[tuple[str, str]] | tuple = (), replied_sid: str | None = None,
                          channel: str = "whatsapp") -> dict[str, str]:
    """An inbound message's form fields. `media` is a list of (url, content type); phones are E.164."""
    sid = message_sid or ("MM" if media else "SM") + secrets.token_hex(16)
    params = {
        "SmsMessageSid": sid, "NumMedia": str(len(media)), "ProfileName": profile_name,
        "MessageType": media[0][1].split("/")[0] if media else "text", "SmsSid": sid,
        "WaId": from_phone.lstrip("+"), "SmsStatus": "received", "Body": body,
        "To": _whatsapp(to_phone, channel), "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
        "AccountSid": account_sid, "From": _whatsapp(from_phone, channel), "ApiVersion": TWILIO_API_VERSION,
    }
    if not channel:
        del params["ProfileName"], params["WaId"]
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    if replied_sid:
        params["OriginalRepliedMessageSid"] = replied_sid
        params["OriginalRepliedMessageSender"] = _whatsapp(to_phone, channel)
    return params


def twilio_status_params(message_sid: str, status: str, *, account_sid: str = "AC" + "0" * 32,
                         from_phone: str = "+14155238886", to_phone: str = "+5511999990000",
                         error_code: str | None = None, channel: str = "whatsapp") -> dict[str, str]:
    """A status callback's form fields (Twilio posts these to the StatusCallback URL)."""
    params = {
        "ChannelPrefix": channel or "sms", "ApiVersion": TWILIO_API_VERSION, "MessageStatus": status,
        "SmsSid": message_sid, "SmsStatus": status, "To": _whatsapp(to_phone, channel),
        "From": _whatsapp(from_phone, channel), "MessageSid": message_sid, "AccountSid": account_sid,
        "StructuredMessage": "false",
    }
    if channel:
        params["ChannelInstallSid"] = "XE" + "0" * 32
        params["ChannelToAddress"] = to_phone
    if error_code is not None:
        params["ErrorCode"] = error_code
    return params


def twilio_body(params: Mapping[str, str]) -> bytes:
    """The form-encoded request body for `params`."""
    return urlencode(params).encode()


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """The X-Twilio-Signature header: base64 HMAC-SHA1 of the URL then each sorted key and its value."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()
