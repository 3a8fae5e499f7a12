"""Webhook signatures and parsing for each provider, fed with the providers' real formats."""

import datetime as dt
import json

import pytest

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
    InboundMessage,
    StatusUpdate,
)
from apps.inboxes.providers.sandbox import SandboxProvider
from apps.inboxes.providers.twilio import TwilioProvider
from apps.inboxes.providers.whatsapp_cloud import WhatsAppCloudProvider
from tests.fakes.webhooks import (
    meta_envelope,
    meta_image_message,
    meta_message,
    meta_signature,
    meta_status,
    meta_text_message,
    twilio_body,
    twilio_message_params,
    twilio_signature,
    twilio_status_params,
)

PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "meta-app-secret"
ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "twilio-auth-token"
TWILIO_NUMBER = "+14155238886"
HOOK_URL = "https://alpha.conversa.example/hooks/twilio/3"
WHEN = dt.datetime(2026, 3, 1, 12, 30, 5, tzinfo=dt.UTC)


@pytest.fixture
def meta():
    return WhatsAppCloudProvider({"phone_number_id": PHONE_NUMBER_ID, "access_token": "token",
                                  "app_secret": APP_SECRET, "verify_token": "verify-me"})


@pytest.fixture
def twilio():
    return TwilioProvider({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                           "from_number": f"whatsapp:{TWILIO_NUMBER}"})


@pytest.fixture
def sandbox():
    return SandboxProvider({"sandbox_token": "sandbox-secret"})


def parse_meta(provider, body: bytes):
    return provider.parse_webhook(body=body, content_type="application/json")


def parse_twilio(provider, params: dict):
    return provider.parse_webhook(body=twilio_body(params), content_type="application/x-www-form-urlencoded")


# --- Meta: signatures and subscription ------------------------------------------------------------

def test_meta_signature_of_the_raw_body_is_accepted(meta):
    body = meta_text_message(PHONE_NUMBER_ID, "5511999990000", "Oi")

    assert meta.verify_signature(body=body, headers={"X-Hub-Signature-256": meta_signature(body, APP_SECRET)},
                                 url="")
    # Header names are case-insensitive.
    assert meta.verify_signature(body=body, headers={"x-hub-signature-256": meta_signature(body, APP_SECRET)},
                                 url="")


@pytest.mark.parametrize("signature", [
    None,
    "",
    "sha256=",
    "sha256=" + "0" * 64,
    "not-a-signature",
])
def test_meta_missing_or_wrong_signatures_are_refused(meta, signature):
    body = meta_text_message(PHONE_NUMBER_ID, "5511999990000", "Oi")
    headers = {} if signature is None else {"X-Hub-Signature-256": signature}

    assert not meta.verify_signature(body=body, headers=headers, url="")


def test_meta_signature_with_another_secret_is_refused(meta):
    body = meta_text_message(PHONE_NUMBER_ID, "5511999990000", "Oi")

    headers = {"X-Hub-Signature-256": meta_signature(body, "other")}

    assert not meta.verify_signature(body=body, headers=headers, url="")


def test_meta_tampered_body_is_refused(meta):
    body = meta_text_message(PHONE_NUMBER_ID, "5511999990000", "Oi")
    signature = meta_signature(body, APP_SECRET)

    tampered = body.replace(b"Oi", b"Hi")

    assert not meta.verify_signature(body=tampered, headers={"X-Hub-Signature-256": signature}, url="")


def test_meta_subscription_echoes_the_challenge_for_our_verify_token(meta):
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}

    assert meta.verify_subscription(params) == "1158201444"
    assert meta.verify_subscription({**params, "hub.verify_token": "guess"}) is None
    assert meta.verify_subscription({**params, "hub.mode": "unsubscribe"}) is None
    assert meta.verify_subscription({"hub.challenge": "1"}) is None


# --- Meta: messages --------------------------------------------------------------------------------

def test_meta_text_message(meta):
    body = meta_text_message(PHONE_NUMBER_ID, "5511999990000", "Oi, tudo bem?", msg_id="wamid.IN1",
                             name="Ana Souza", timestamp=WHEN.timestamp(), context_id="wamid.OUT9")

    batch = parse_meta(meta, body)

    assert batch.statuses == []
    [message] = batch.messages
    assert message == InboundMessage(
        provider_message_id="wamid.IN1", from_phone="+5511999990000", profile_name="Ana Souza", kind=TEXT,
        text="Oi, tudo bem?", timestamp=WHEN, reply_to_provider_id="wamid.OUT9", raw=message.raw,
    )
    assert message.raw["text"] == {"body": "Oi, tudo bem?"}


def test_meta_image_message(meta):
    body = meta_image_message(PHONE_NUMBER_ID, "5511999990000", "1479537139650973", "image/jpeg",
                              caption="The receipt")

    [message] = parse_meta(meta, body).messages

    assert (message.kind, message.media_ref, message.media_mime, message.text) == (
        IMAGE, "1479537139650973", "image/jpeg", "The receipt")
    assert message.timestamp.tzinfo is not None


@pytest.mark.parametrize(("kind", "payload", "expected"), [
    ("document",
     {"id": "m1", "mime_type": "application/pdf", "filename": "invoice.pdf", "caption": "Invoice"},
     (DOCUMENT, "m1", "application/pdf", "invoice.pdf", "Invoice")),
    ("audio", {"id": "m2", "mime_type": "audio/ogg; codecs=opus", "voice": True},
     (AUDIO, "m2", "audio/ogg; codecs=opus", "", "")),
    ("sticker", {"id": "m3", "mime_type": "image/webp", "animated": False},
     (IMAGE, "m3", "image/webp", "", "")),
])
def test_meta_other_media(meta, kind, payload, expected):
    [message] = parse_meta(meta, meta_message(PHONE_NUMBER_ID, "5511999990000", kind, payload)).messages

    got = (message.kind, message.media_ref, message.media_mime, message.media_filename, message.text)
    assert got == expected


@pytest.mark.parametrize(("kind", "payload", "expected"), [
    ("location", {"latitude": -23.5505, "longitude": -46.6333, "name": "Sé", "address": "Praça da Sé"},
     (LOCATION, "-23.5505,-46.6333\nSé\nPraça da Sé")),
    ("interactive", {"type": "button_reply", "button_reply": {"id": "yes", "title": "Sim"}}, (TEXT, "Sim")),
    ("interactive",
     {"type": "list_reply", "list_reply": {"id": "r2", "title": "Suporte", "description": "x"}},
     (TEXT, "Suporte")),
    ("button", {"payload": "STOP", "text": "Parar promoções"}, (TEXT, "Parar promoções")),
])
def test_meta_locations_and_replies_to_buttons(meta, kind, payload, expected):
    [message] = parse_meta(meta, meta_message(PHONE_NUMBER_ID, "5511999990000", kind, payload)).messages

    assert (message.kind, message.text) == expected


def test_meta_contact_cards(meta):
    body = meta_envelope(PHONE_NUMBER_ID, {
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5511999990000"}],
        "messages": [{
            "from": "5511999990000", "id": "wamid.C1", "timestamp": "1772368205", "type": "contacts",
            "contacts": [{"name": {"formatted_name": "Bruno Lima", "first_name": "Bruno"},
                          "phones": [{"phone": "+55 21 98888-7777", "type": "CELL",
                                      "wa_id": "5521988887777"}]}],
        }],
    })

    [message] = parse_meta(meta, body).messages

    assert message.kind == CONTACT_CARD
    assert (message.text, message.profile_name) == ("Bruno Lima: +55 21 98888-7777", "Ana")


def test_meta_unknown_and_malformed_items_are_skipped_without_losing_the_rest(meta):
    good = {"from": "5511999990000", "id": "wamid.OK", "timestamp": "1772368205", "type": "text",
            "text": {"body": "still here"}}
    body = meta_envelope(PHONE_NUMBER_ID, {
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5511999990000"}],
        "messages": [
            {"from": "5511999990000", "id": "wamid.R", "timestamp": "1772368205", "type": "reaction",
             "reaction": {"message_id": "wamid.OUT", "emoji": "👍"}},
            {"from": "5511999990000", "id": "wamid.U", "timestamp": "1772368205", "type": "unsupported",
             "errors": [{"code": 131051, "title": "Message type unknown"}]},
            {"from": "5511999990000", "id": "wamid.BAD", "type": "text"},  # no text at all
            good,
        ],
        "statuses": [{"id": "wamid.X", "status": "deleted", "timestamp": "1772368205"}, {"status": "read"}],
    })

    batch = parse_meta(meta, body)

    assert [m.provider_message_id for m in batch.messages] == ["wamid.OK"]
    assert batch.statuses == []


def test_meta_every_entry_and_change_is_read(meta):
    first = json.loads(meta_text_message(PHONE_NUMBER_ID, "5511999990000", "one", msg_id="wamid.1"))
    second = json.loads(meta_status(PHONE_NUMBER_ID, "wamid.OUT", "delivered", recipient="5511999990000"))
    other_field = {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    first["entry"][0]["changes"].append(other_field)
    first["entry"].extend(second["entry"])

    batch = parse_meta(meta, json.dumps(first).encode())

    assert [m.provider_message_id for m in batch.messages] == ["wamid.1"]
    assert [(s.provider_message_id, s.status) for s in batch.statuses] == [("wamid.OUT", DELIVERED)]


# --- Meta: statuses ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "expected"), [("sent", SENT), ("delivered", DELIVERED), ("read", READ)])
def test_meta_statuses(meta, status, expected):
    body = meta_status(PHONE_NUMBER_ID, "wamid.OUT1", status, recipient="5511999990000",
                       timestamp=WHEN.timestamp(), callback_data="msg-key-1")

    batch = parse_meta(meta, body)

    assert batch.messages == []
    assert batch.statuses == [StatusUpdate(provider_message_id="wamid.OUT1", status=expected, timestamp=WHEN,
                                           send_key="msg-key-1")]


def test_meta_failed_status_carries_the_error(meta):
    body = meta_status(PHONE_NUMBER_ID, "wamid.OUT2", "failed", recipient="5511999990000",
                       error={"code": 131026, "title": "Message undeliverable"})

    [update] = parse_meta(meta, body).statuses

    assert (update.status, update.error_code) == (FAILED, "131026")
    assert update.error_message == "Message undeliverable"


def test_meta_body_that_is_not_json_is_an_error(meta):
    with pytest.raises(ValueError):
        parse_meta(meta, b"<html>")


# --- Twilio: signatures ----------------------------------------------------------------------------

def signed_twilio(params: dict, url: str = HOOK_URL, token: str = AUTH_TOKEN) -> dict:
    return {"X-Twilio-Signature": twilio_signature(url, params, token)}


def status_params(status: str = "delivered", **kwargs) -> dict:
    return twilio_status_params("SM" + "a" * 32, status, account_sid=ACCOUNT_SID, from_phone=TWILIO_NUMBER,
                                **kwargs)


def test_twilio_signature_over_url_and_sorted_params_is_accepted(twilio):
    params = status_params()

    assert twilio.verify_signature(body=twilio_body(params), headers=signed_twilio(params), url=HOOK_URL,
                                   form=params)
    # Without the parsed form the body is read instead.
    assert twilio.verify_signature(body=twilio_body(params), headers=signed_twilio(params), url=HOOK_URL)


def test_twilio_signature_survives_a_default_port_added_by_a_proxy(twilio):
    params = status_params()

    assert twilio.verify_signature(body=b"", headers=signed_twilio(params), form=params,
                                   url="https://alpha.conversa.example:443/hooks/twilio/3")


def test_twilio_signature_for_a_different_url_is_refused(twilio):
    params = status_params()
    headers = signed_twilio(params, url="https://bravo.conversa.example/hooks/twilio/3")

    assert not twilio.verify_signature(body=b"", headers=headers, url=HOOK_URL, form=params)
    assert not twilio.verify_signature(body=b"", headers=signed_twilio(params), form=params,
                                       url=HOOK_URL + "?send_key=other")


def test_twilio_wrong_missing_or_tampered_signatures_are_refused(twilio):
    params = status_params()

    assert not twilio.verify_signature(body=b"", headers=signed_twilio(params, token="other"), url=HOOK_URL,
                                       form=params)
    assert not twilio.verify_signature(body=b"", headers={}, url=HOOK_URL, form=params)
    tampered = {**params, "MessageStatus": "read"}
    assert not twilio.verify_signature(body=b"", headers=signed_twilio(params), url=HOOK_URL, form=tampered)


# --- Twilio: messages --------------------------------------------------------------------------------

def test_twilio_text_message(twilio):
    params = twilio_message_params(ACCOUNT_SID, "+5511999990000", TWILIO_NUMBER, "Oi!",
                                   message_sid="SM" + "1" * 32, profile_name="Ana Souza")
    before = dt.datetime.now(dt.UTC)

    batch = parse_twilio(twilio, params)

    assert batch.statuses == []
    [message] = batch.messages
    got = (message.provider_message_id, message.from_phone, message.profile_name, message.kind, message.text)
    assert got == ("SM" + "1" * 32, "+5511999990000", "Ana Souza", TEXT, "Oi!")
    assert message.timestamp >= before and message.timestamp.tzinfo is not None
    assert message.media_ref == "" and message.reply_to_provider_id == ""


def test_twilio_media_message(twilio):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1"
    params = twilio_message_params(ACCOUNT_SID, "+5511999990000", TWILIO_NUMBER, "Recibo",
                                   media=[(url, "image/jpeg")])

    [message] = parse_twilio(twilio, params).messages

    assert (message.kind, message.media_ref, message.media_mime, message.text) == (IMAGE, url, "image/jpeg",
                                                                                  "Recibo")


def test_twilio_several_media_become_one_message_each(twilio):
    params = twilio_message_params(ACCOUNT_SID, "+14155550123", "+14155550100", "Two files",
                                   message_sid="MM" + "3" * 32, channel="",
                                   media=[("https://api.twilio.com/m/1", "application/pdf"),
                                          ("https://api.twilio.com/m/2", "audio/mpeg")])

    messages = parse_twilio(twilio, params).messages

    assert [(m.provider_message_id, m.kind, m.text, m.from_phone) for m in messages] == [
        ("MM" + "3" * 32, DOCUMENT, "Two files", "+14155550123"),
        ("MM" + "3" * 32 + "-1", AUDIO, "", "+14155550123"),
    ]


def test_twilio_reply_points_at_the_quoted_message(twilio):
    params = twilio_message_params(ACCOUNT_SID, "+5511999990000", TWILIO_NUMBER, "Sim",
                                   replied_sid="SM" + "9" * 32)

    [message] = parse_twilio(twilio, params).messages

    assert message.reply_to_provider_id == "SM" + "9" * 32


# --- Twilio: statuses --------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "expected"), [("sent", SENT), ("delivered", DELIVERED), ("read", READ)])
def test_twilio_statuses(twilio, status, expected):
    [update] = parse_twilio(twilio, status_params(status)).statuses

    assert (update.provider_message_id, update.status, update.error_code) == ("SM" + "a" * 32, expected, "")
    assert update.timestamp.tzinfo is not None


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_twilio_undelivered_and_failed_are_failures_with_their_code(twilio, status):
    batch = parse_twilio(twilio, status_params(status, error_code="63016"))

    assert batch.messages == []
    assert [(u.status, u.error_code) for u in batch.statuses] == [(FAILED, "63016")]


@pytest.mark.parametrize("status", ["queued", "sending", "accepted"])
def test_twilio_steps_before_delivery_are_not_statuses(twilio, status):
    assert parse_twilio(twilio, status_params(status)) == parse_twilio(twilio, {})
    assert parse_twilio(twilio, status_params(status)).statuses == []


# --- sandbox ---------------------------------------------------------------------------------------------

def parse_sandbox(provider, payload) -> list[InboundMessage]:
    return provider.parse_webhook(body=json.dumps(payload).encode(), content_type="application/json").messages


def test_sandbox_token_is_checked(sandbox):
    assert sandbox.verify_signature(body=b"{}", headers={"X-Sandbox-Token": "sandbox-secret"}, url="")
    assert sandbox.verify_signature(body=b"{}", headers={"x-sandbox-token": "sandbox-secret"}, url="")
    assert not sandbox.verify_signature(body=b"{}", headers={"X-Sandbox-Token": "guess"}, url="")
    assert not sandbox.verify_signature(body=b"{}", headers={}, url="")


def test_sandbox_text_keeps_a_given_id(sandbox):
    payload = {"from": "+5511999990000", "name": "Ana", "text": "Oi", "id": "sbx_in_1"}

    [message] = parse_sandbox(sandbox, payload)

    got = (message.provider_message_id, message.from_phone, message.profile_name, message.kind, message.text)
    assert got == ("sbx_in_1", "+5511999990000", "Ana", TEXT, "Oi")


@pytest.mark.parametrize(("url", "kind", "mime", "filename"), [
    ("https://files.example.com/photo.png", IMAGE, "image/png", ""),
    ("https://files.example.com/docs/price-list.pdf?v=2", DOCUMENT, "application/pdf", "price-list.pdf"),
])
def test_sandbox_media(sandbox, url, kind, mime, filename):
    [message] = parse_sandbox(sandbox, {"from": "+5511999990000", "media_url": url})

    assert (message.kind, message.media_ref, message.media_mime, message.media_filename, message.text) == (
        kind, url, mime, filename, "")


@pytest.mark.parametrize(("payload", "complaint"), [
    ({"from": "5511999990000", "text": "no plus"}, "E.164"),
    ({"from": "+55119", "text": "too short"}, "E.164"),
    ({"from": "+5511999990000123456", "text": "too long"}, "E.164"),
    ({"text": "no sender"}, "E.164"),
    ({"from": "+5511999990000"}, "text"),
    ({"from": "+5511999990000", "text": 5}, "text"),
    ({"from": "+5511999990000", "media_url": "file:///etc/passwd"}, "media_url"),
    (["not", "an", "object"], "object"),
])
def test_sandbox_refuses_what_it_cannot_take(sandbox, payload, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_sandbox(sandbox, payload)


def test_sandbox_refuses_a_body_that_is_not_json(sandbox):
    with pytest.raises(ValueError, match="JSON"):
        sandbox.parse_webhook(body=b"from=+5511999990000", content_type="application/x-www-form-urlencoded")


def test_a_twilio_form_naming_a_field_twice_is_neither_verified_nor_parsed(twilio):
    """The signature and the parser read one form the same way; a form that could be read two ways
    (a field's first or last value) is no form of Twilio's."""
    params = twilio_message_params(ACCOUNT_SID, "+5511977776666", TWILIO_NUMBER, "Real")
    signature = {"X-Twilio-Signature": twilio_signature(HOOK_URL, params, AUTH_TOKEN)}
    body = twilio_body({"Body": "spoofed", "From": "whatsapp:+5511900003333"}) + b"&" + twilio_body(params)

    assert twilio.verify_signature(body=twilio_body(params), headers=signature, url=HOOK_URL)
    assert not twilio.verify_signature(body=body, headers=signature, url=HOOK_URL)
    with pytest.raises(ValueError, match="repeated"):
        twilio.parse_webhook(body=body, content_type="application/x-www-form-urlencoded")
