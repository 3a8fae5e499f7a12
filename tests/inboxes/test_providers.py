"""Provider clients against the fake provider server: wire shapes, errors, media and the address guard."""

import base64
import json
import re
import socket
import threading
import time

import httpx
import pytest

from apps.inboxes.providers import PROVIDERS, get_provider
from apps.inboxes.providers.base import ProviderError, SendResult
from apps.inboxes.providers.sandbox import SandboxProvider
from apps.inboxes.providers.twilio import TwilioProvider
from apps.inboxes.providers.whatsapp_cloud import WhatsAppCloudProvider
from tests.fakes.provider_server import FakeProviderServer

PHONE_NUMBER_ID = "106540352242922"
META_TOKEN = "EAAG-meta-access-token-for-tests"
ACCOUNT_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-auth-token-for-tests"
WHATSAPP_FROM = "whatsapp:+14155238886"
CUSTOMER = "+5511999990000"


@pytest.fixture(scope="module")
def server():
    with FakeProviderServer() as fake:
        fake.register_meta(PHONE_NUMBER_ID, META_TOKEN)
        fake.register_twilio(ACCOUNT_SID, TWILIO_TOKEN)
        yield fake


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


def meta_credentials(server: FakeProviderServer, **overrides) -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "business_account_id": "102290129340398",
            "access_token": META_TOKEN, "app_secret": "meta-app-secret", "verify_token": "verify-me",
            "graph_base_url": server.url, **overrides}


def twilio_credentials(server: FakeProviderServer, **overrides) -> dict:
    return {"account_sid": ACCOUNT_SID, "auth_token": TWILIO_TOKEN, "from_number": WHATSAPP_FROM,
            "api_base_url": server.url, **overrides}


@pytest.fixture
def meta(server):
    return WhatsAppCloudProvider(meta_credentials(server))


@pytest.fixture
def twilio(server):
    return TwilioProvider(twilio_credentials(server))


def only_accepted(server: FakeProviderServer):
    accepted = server.accepted
    assert len(accepted) == 1, server.requests
    return accepted[0]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- registry ------------------------------------------------------------------------------------

def test_providers_are_registered_by_their_inbox_names(server):
    assert {name: cls.name for name, cls in PROVIDERS.items()} == {
        "whatsapp_cloud": "whatsapp_cloud", "twilio": "twilio", "sandbox": "sandbox"}
    provider = get_provider("twilio", twilio_credentials(server))
    assert isinstance(provider, TwilioProvider)


def test_unknown_providers_and_missing_credentials_are_refused(server):
    with pytest.raises(ValueError, match="unknown provider"):
        get_provider("telegram", {})
    with pytest.raises(ValueError, match="access_token"):
        get_provider("whatsapp_cloud", meta_credentials(server, access_token=""))


# --- Meta: sends -----------------------------------------------------------------------------------

def test_meta_text_reaches_the_api_in_its_shape(server, meta):
    result = meta.send_text(to=CUSTOMER, text="Hola!", send_key="msg-1")

    request = only_accepted(server)
    assert (request.method, request.path) == ("POST", f"/v21.0/{PHONE_NUMBER_ID}/messages")
    assert request.headers["authorization"] == f"Bearer {META_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999990000",
        "type": "text", "text": {"preview_url": False, "body": "Hola!"}, "biz_opaque_callback_data": "msg-1",
    }
    assert re.fullmatch(r"wamid\.[A-Za-z0-9+/=]+", result.provider_message_id)


def test_meta_reply_carries_the_quoted_message(server, meta):
    meta.send_text(to=CUSTOMER, text="Yes", send_key="msg-2", reply_to="wamid.QUOTED")

    assert only_accepted(server).json["context"] == {"message_id": "wamid.QUOTED"}


def test_meta_template_with_variables(server, meta):
    meta.send_template(to=CUSTOMER, name="order_update", language="pt_BR", variables=["Ana", "#42"],
                       send_key="msg-3")

    body = only_accepted(server).json
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "order_update", "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                                        {"type": "text", "text": "#42"}]}],
    }
    assert body["biz_opaque_callback_data"] == "msg-3"


def test_meta_template_without_variables_has_no_components(server, meta):
    meta.send_template(to=CUSTOMER, name="hello_world", language="en_US", variables=[], send_key="msg-4")

    assert only_accepted(server).json["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


@pytest.mark.parametrize(("kind", "caption", "filename", "expected"), [
    ("image", "Our menu", "", {"link": "https://cdn.example.com/m.jpg", "caption": "Our menu"}),
    ("video", "", "", {"link": "https://cdn.example.com/m.jpg"}),
    ("document", "Invoice", "invoice.pdf",
     {"link": "https://cdn.example.com/m.jpg", "caption": "Invoice", "filename": "invoice.pdf"}),
    # Meta refuses captions on audio and filenames on anything but documents.
    ("audio", "ignored", "ignored.ogg", {"link": "https://cdn.example.com/m.jpg"}),
])
def test_meta_media(server, meta, kind, caption, filename, expected):
    meta.send_media(to=CUSTOMER, kind=kind, url="https://cdn.example.com/m.jpg", send_key="msg-5",
                    caption=caption, filename=filename)

    body = only_accepted(server).json
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999990000",
                    "type": kind, kind: expected, "biz_opaque_callback_data": "msg-5"}


def test_meta_api_version_comes_from_the_credentials(server):
    provider = WhatsAppCloudProvider(meta_credentials(server, api_version="v19.0"))
    provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert only_accepted(server).path == f"/v19.0/{PHONE_NUMBER_ID}/messages"


# --- Meta: errors ------------------------------------------------------------------------------------

def test_meta_wrong_token_is_not_retryable_and_not_echoed(server):
    provider = WhatsAppCloudProvider(meta_credentials(server, access_token="EAAG-revoked-token"))
    with pytest.raises(ProviderError) as caught:
        provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    error = caught.value
    assert (error.retryable, error.status, error.code) == (False, 401, "190")
    assert "EAAG-revoked-token" not in str(error)
    assert server.count_accepted() == 0
    assert len(server.failed) == 1


def test_meta_unknown_phone_number_id_is_not_retryable(server):
    provider = WhatsAppCloudProvider(meta_credentials(server, phone_number_id="999"))
    with pytest.raises(ProviderError) as caught:
        provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.status, caught.value.code) == (False, 404, "100")


def test_meta_invalid_request_is_not_retryable(server, meta):
    with pytest.raises(ProviderError) as caught:
        meta.send_text(to=CUSTOMER, text="", send_key="k")

    assert (caught.value.retryable, caught.value.status, caught.value.code) == (False, 400, "100")


def test_meta_rate_limit_is_retryable_with_its_hint(server, meta):
    server.fail_next(status=429, retry_after=7)

    with pytest.raises(ProviderError) as caught:
        meta.send_text(to=CUSTOMER, text="hi", send_key="k")

    error = caught.value
    assert (error.retryable, error.status, error.code, error.retry_after) == (True, 429, "130429", 7.0)
    assert server.count_accepted() == 0 and len(server.failed) == 1
    # The failure was for one request only.
    meta.send_text(to=CUSTOMER, text="hi", send_key="k")
    assert server.count_accepted() == 1


@pytest.mark.parametrize("code", [131048, 131056, 80007])
def test_meta_throttling_codes_are_retryable_even_on_a_400(server, meta, code):
    server.fail_next(status=400, code=code)

    with pytest.raises(ProviderError) as caught:
        meta.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.code) == (True, str(code))


def test_meta_server_error_is_retryable(server, meta):
    server.fail_next(status=500)

    with pytest.raises(ProviderError) as caught:
        meta.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.status, caught.value.code) == (True, 500, "131000")
    assert caught.value.retry_after is None


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_retryable(server):
    credentials = meta_credentials(server, graph_base_url=f"http://127.0.0.1:{closed_port()}")
    provider = WhatsAppCloudProvider(credentials)
    with pytest.raises(ProviderError) as caught:
        provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.code) == (True, "network_error")
    assert META_TOKEN not in str(caught.value)


def test_a_timeout_is_retryable(server):
    server.delay_next(1.0)
    with httpx.Client(timeout=0.2) as http:
        provider = TwilioProvider(twilio_credentials(server), http=http)
        with pytest.raises(ProviderError) as caught:
            provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.code) == (True, "network_error")
    # The provider still took it: why sends need idempotency keys (and why this test waits for it).
    assert server.wait_for_accepted(1, timeout=5)


# --- Twilio: sends ------------------------------------------------------------------------------

def test_twilio_text_reaches_the_api_in_its_shape(server, twilio):
    result = twilio.send_text(to=CUSTOMER, text="Olá!", send_key="msg-1")

    request = only_accepted(server)
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert request.headers["authorization"] == basic(ACCOUNT_SID, TWILIO_TOKEN)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": f"whatsapp:{CUSTOMER}", "From": WHATSAPP_FROM, "Body": "Olá!"}
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_message_id)


def test_twilio_sms_numbers_have_no_channel_prefix(server):
    provider = TwilioProvider(twilio_credentials(server, from_number="+14155550100"))
    provider.send_text(to="whatsapp:+55 11 99999-0000", text="hi", send_key="k")

    assert only_accepted(server).form == {"To": CUSTOMER, "From": "+14155550100", "Body": "hi"}


def test_twilio_sends_ask_for_status_callbacks_when_the_inbox_has_a_webhook_url(server):
    hook = "https://alpha.example.com/hooks/twilio/3?send_key=msg-1"
    provider = TwilioProvider(twilio_credentials(server, webhook_url=hook))
    provider.send_text(to=CUSTOMER, text="hi", send_key="msg-1")

    assert only_accepted(server).form["StatusCallback"] == hook


def test_twilio_template_is_a_content_sid_with_numbered_variables(server, twilio):
    twilio.send_template(to=CUSTOMER, name="HX" + "a" * 32, language="pt_BR", variables=["Ana", "#42"],
                         send_key="k")

    form = only_accepted(server).form
    assert form == {"To": f"whatsapp:{CUSTOMER}", "From": WHATSAPP_FROM, "ContentSid": "HX" + "a" * 32,
                    "ContentVariables": form["ContentVariables"]}
    assert json.loads(form["ContentVariables"]) == {"1": "Ana", "2": "#42"}


def test_twilio_template_without_variables(server, twilio):
    twilio.send_template(to=CUSTOMER, name="HX" + "b" * 32, language="en", variables=[], send_key="k")

    assert "ContentVariables" not in only_accepted(server).form


def test_twilio_media_with_a_caption(server, twilio):
    twilio.send_media(to=CUSTOMER, kind="image", url="https://cdn.example.com/m.jpg", send_key="k",
                      caption="Our menu")

    assert only_accepted(server).form == {"To": f"whatsapp:{CUSTOMER}", "From": WHATSAPP_FROM,
                                          "MediaUrl": "https://cdn.example.com/m.jpg", "Body": "Our menu"}


# --- Twilio: errors ----------------------------------------------------------------------------------

def test_twilio_wrong_token_is_not_retryable_and_not_echoed(server):
    provider = TwilioProvider(twilio_credentials(server, auth_token="stale-token"))
    with pytest.raises(ProviderError) as caught:
        provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.status, caught.value.code) == (False, 401, "20003")
    assert "stale-token" not in str(caught.value)


def test_twilio_invalid_request_is_not_retryable(server, twilio):
    with pytest.raises(ProviderError) as caught:
        twilio.send_text(to=CUSTOMER, text="x" * 1601, send_key="k")

    assert (caught.value.retryable, caught.value.status, caught.value.code) == (False, 400, "21617")


def test_twilio_rate_limit_is_retryable_with_its_hint(server, twilio):
    server.fail_next(status=429, retry_after=3)

    with pytest.raises(ProviderError) as caught:
        twilio.send_text(to=CUSTOMER, text="hi", send_key="k")

    error = caught.value
    assert (error.retryable, error.status, error.code, error.retry_after) == (True, 429, "20429", 3.0)


def test_twilio_server_error_is_retryable(server, twilio):
    server.fail_next(status=503)

    with pytest.raises(ProviderError) as caught:
        twilio.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert (caught.value.retryable, caught.value.status) == (True, 503)


def test_failures_can_target_one_api(server, meta, twilio):
    server.fail_next(status=500, path_contains="/Messages.json")

    meta.send_text(to=CUSTOMER, text="hi", send_key="k")
    with pytest.raises(ProviderError):
        twilio.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert [r.path for r in server.accepted] == [f"/v21.0/{PHONE_NUMBER_ID}/messages"]


# --- media downloads ---------------------------------------------------------------------------------

def test_meta_media_download(server, meta):
    server.add_meta_media("1234567890", b"\xff\xd8jpeg-bytes", "image/jpeg")

    data, mime = meta.download_media("1234567890")

    assert (data, mime) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    lookup, fetch = server.requests
    assert lookup.path == "/v21.0/1234567890" and fetch.path == "/meta-media/1234567890"
    assert lookup.headers["authorization"] == fetch.headers["authorization"] == f"Bearer {META_TOKEN}"


def test_meta_unknown_media_is_not_retryable(server, meta):
    with pytest.raises(ProviderError) as caught:
        meta.download_media("no-such-media")

    assert (caught.value.retryable, caught.value.status) == (False, 404)


def test_twilio_media_download(server, twilio):
    url = server.add_twilio_media("ME1", b"%PDF-1.7", "application/pdf")

    assert twilio.download_media(url) == (b"%PDF-1.7", "application/pdf")
    assert server.requests[0].headers["authorization"] == basic(ACCOUNT_SID, TWILIO_TOKEN)


def test_twilio_media_download_follows_the_cdn_redirect_without_credentials(server, twilio):
    url = server.add_twilio_media("ME2", b"OggS-audio", "audio/ogg", redirect=True)

    assert twilio.download_media(url) == (b"OggS-audio", "audio/ogg")
    first, redirected = server.requests
    assert first.status == 307 and redirected.path.startswith("/twilio-media-cdn/")
    assert "authorization" not in redirected.headers


def test_twilio_credentials_never_go_to_another_host(twilio):
    with FakeProviderServer() as elsewhere:
        elsewhere.register_twilio(ACCOUNT_SID, TWILIO_TOKEN)
        url = elsewhere.add_twilio_media("ME3", b"data", "image/png")

        with pytest.raises(ProviderError) as caught:
            twilio.download_media(url)

        assert caught.value.status == 401
        assert "authorization" not in elsewhere.requests[0].headers


# --- sandbox -------------------------------------------------------------------------------------------

def test_sandbox_round_trip_without_any_http():
    calls = []
    tripwire = httpx.Client(transport=httpx.MockTransport(lambda request: calls.append(request)))
    provider = SandboxProvider({"sandbox_token": "s3cret"}, http=tripwire)
    body = json.dumps({"from": CUSTOMER, "name": "Ana", "text": "Oi"}).encode()

    assert provider.verify_signature(body=body, headers={"X-Sandbox-Token": "s3cret"}, url="")
    [inbound] = provider.parse_webhook(body=body, content_type="application/json").messages
    results = [
        provider.send_text(to=inbound.from_phone, text="Olá Ana", send_key="a"),
        provider.send_template(to=inbound.from_phone, name="hello", language="pt_BR", variables=[],
                               send_key="b"),
        provider.send_media(to=inbound.from_phone, kind="image", url="https://x.example/a.png",
                            send_key="c"),
    ]
    tripwire.close()

    assert (inbound.from_phone, inbound.profile_name, inbound.text) == (CUSTOMER, "Ana", "Oi")
    assert inbound.provider_message_id.startswith("sbx_in_")
    assert all(isinstance(r, SendResult) and re.fullmatch(r"sbx_[0-9a-f]{32}", r.provider_message_id)
               for r in results)
    assert len({r.provider_message_id for r in results}) == 3
    assert calls == []


# --- the outbound-address guard --------------------------------------------------------------------------

@pytest.mark.parametrize("send", [
    lambda p: p.send_text(to=CUSTOMER, text="hi", send_key="k"),
    lambda p: p.download_media("1234567890"),
])
def test_the_guard_refuses_a_provider_pointed_at_loopback(server, settings, send):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    server.add_meta_media("1234567890", b"x", "image/png")

    provider = WhatsAppCloudProvider(meta_credentials(server))
    with pytest.raises(ProviderError) as caught:
        send(provider)

    assert (caught.value.retryable, caught.value.code) == (False, "outbound_url_refused")
    assert server.requests == []


def test_the_guard_refuses_twilio_pointed_at_loopback(server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False

    provider = TwilioProvider(twilio_credentials(server))
    with pytest.raises(ProviderError) as caught:
        provider.send_text(to=CUSTOMER, text="hi", send_key="k")

    assert caught.value.code == "outbound_url_refused"
    assert server.requests == []


def test_the_guard_checks_the_base_url_once_per_client(server, settings, meta):
    meta.send_text(to=CUSTOMER, text="hi", send_key="k")

    settings.OUTBOUND_ALLOW_PRIVATE = False

    meta.send_text(to=CUSTOMER, text="hi", send_key="k")
    assert server.count_accepted() == 2
    with pytest.raises(ProviderError):
        WhatsAppCloudProvider(meta_credentials(server)).send_text(to=CUSTOMER, text="hi", send_key="k")


# --- the fake itself ---------------------------------------------------------------------------------------

def test_the_fake_counts_arrivals_in_a_sliding_window(server, twilio):
    for _ in range(3):
        twilio.send_text(to=CUSTOMER, text="hi", send_key="k")
    assert server.max_in_window(1.0) == 3
    assert server.max_in_window(0.0) == 0
    assert server.wait_for_accepted(3, timeout=0.1)
    assert not server.wait_for_accepted(4, timeout=0.1)


def test_the_fake_stops_cleanly_while_a_request_is_delayed():
    with FakeProviderServer() as fake:
        fake.register_twilio(ACCOUNT_SID, TWILIO_TOKEN)
        fake.delay_next(30)
        provider = TwilioProvider(twilio_credentials(fake))
        errors = []

        def send():
            try:
                provider.send_text(to=CUSTOMER, text="hi", send_key="k")
            except ProviderError as exc:
                errors.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.3)  # the request is now held by the fake
        started = time.monotonic()
    sender.join(timeout=5)

    assert time.monotonic() - started < 2
    assert [e.retryable for e in errors] == [True]
    assert fake.count_accepted() == 0
