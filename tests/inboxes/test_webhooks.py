"""Provider webhooks on the tenant host: signatures, storage before the answer, processing, isolation."""

import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations import drain
from apps.conversations.drain import MAX_ATTEMPTS, webhook_event_process
from apps.conversations.models import Conversation, Message
from apps.inboxes.models import WebhookEvent
from apps.inboxes.services import inbox_update
from tenants.services import company_suspend
from tests.conftest import host_of
from tests.fakes.webhooks import (
    meta_signature,
    meta_text_message,
    twilio_body,
    twilio_message_params,
    twilio_signature,
    twilio_status_params,
)
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive
from tests.fixtures.waiting import backends_waiting_on_locks, eventually

PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "meta-verify-token-for-tests"
ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "twilio-auth-token-for-tests"
TWILIO_NUMBER = "+14155238886"

META_CREDENTIALS = {
    "phone_number_id": PHONE_NUMBER_ID,
    "business_account_id": "102290129340398",
    "access_token": "EAAG-access-token",
    "app_secret": APP_SECRET,
    "verify_token": VERIFY_TOKEN,
}
TWILIO_CREDENTIALS = {
    "account_sid": ACCOUNT_SID,
    "auth_token": AUTH_TOKEN,
    "from_number": f"whatsapp:{TWILIO_NUMBER}",
}


def post_raw(api, company, path: str, body: bytes, content_type: str, headers: dict | None = None):
    """A raw body through the full middleware stack on the company's host."""
    response = api(company).client.post(path, data=body, content_type=content_type, headers=headers or {})
    connection.set_schema_to_public()
    return response


def post_meta(api, company, inbox_id: int, body: bytes, signature: str | None = "valid"):
    headers = {}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = meta_signature(body, APP_SECRET)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return post_raw(api, company, f"/hooks/whatsapp/{inbox_id}", body, "application/json", headers)


def post_twilio(
    api,
    company,
    inbox_id: int,
    params: dict,
    *,
    query: str = "",
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
):
    path = f"/hooks/twilio/{inbox_id}{query}"
    url = signed_url if signed_url is not None else f"http://{host_of(company)}{path}"
    headers = {"X-Twilio-Signature": twilio_signature(url, params, token)}
    return post_raw(api, company, path, twilio_body(params), "application/x-www-form-urlencoded", headers)


def post_sandbox(api, company, inbox, payload: dict, token: str | None = "valid"):
    headers = {}
    if token is not None:
        headers["X-Sandbox-Token"] = inbox.sandbox_token if token == "valid" else token
    return api(company).post(f"/hooks/sandbox/{inbox.pk}", payload, headers=headers)


def events_of(company) -> list[WebhookEvent]:
    with schema_context(company.schema_name):
        return list(WebhookEvent.objects.all())


def inbound_messages(company, inbox) -> list[Message]:
    with schema_context(company.schema_name):
        return list(
            Message.objects.filter(inbox=inbox, direction="inbound")
            .select_related("conversation__contact")
            .order_by("id")
        )


@pytest.fixture
def meta_inbox(alpha):
    return make_inbox(alpha, provider="whatsapp_cloud", credentials=META_CREDENTIALS)


@pytest.fixture
def twilio_inbox(alpha):
    return make_inbox(alpha, provider="twilio", credentials=TWILIO_CREDENTIALS)


@pytest.fixture
def sandbox_inbox(alpha):
    return make_inbox(alpha)


# --- Meta: POST ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_meta_message_is_stored_once_and_becomes_a_conversation(
    api, alpha, meta_inbox, django_capture_on_commit_callbacks
):
    body = meta_text_message(
        PHONE_NUMBER_ID, "5511988887777", "Hola, ¿tienen envíos?", msg_id="wamid.A1", name="Marta"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post_meta(api, alpha, meta_inbox.pk, body)

    assert response.status_code == 200
    assert response.json() == {"status": "received"}
    [event] = events_of(alpha)
    assert bytes(event.body) == body  # exactly as received
    assert (event.inbox_id, event.status, event.attempts) == (meta_inbox.pk, "processed", 1)
    [message] = inbound_messages(alpha, meta_inbox)
    assert (message.provider_message_id, message.text, message.kind) == (
        "wamid.A1",
        "Hola, ¿tienen envíos?",
        "text",
    )
    contact = message.conversation.contact
    assert (contact.phone, contact.name) == ("+5511988887777", "Marta")
    assert message.conversation.inbox_id == meta_inbox.pk
    assert message.conversation.status == "queued"
    # agents see it in their inbox
    admin = api(alpha, token=api(alpha).login("admin@alpha.example.com")["access"])
    listed = admin.get("/api/v1/conversations?status=queued&limit=100").json()["items"]
    assert message.conversation_id in {item["id"] for item in listed}


@pytest.mark.django_db
def test_without_the_commit_the_webhook_is_still_stored_for_the_worker(api, alpha, meta_inbox):
    """Persisted before the 200: if no worker runs (queue down), the row waits for the sweep."""
    body = meta_text_message(PHONE_NUMBER_ID, "5511988887777", "Hola")

    response = post_meta(api, alpha, meta_inbox.pk, body)

    assert response.status_code == 200
    assert [(e.status, e.attempts) for e in events_of(alpha)] == [("pending", 0)]
    assert inbound_messages(alpha, meta_inbox) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        "sha256=bad",
        "wrong-secret",
        "other-body",
        "sha1-prefix",
    ],
)
def test_a_bad_meta_signature_is_403_and_nothing_is_stored(
    api, alpha, meta_inbox, django_capture_on_commit_callbacks, signature
):
    body = meta_text_message(PHONE_NUMBER_ID, "5511988887777", "Hola")
    if signature == "wrong-secret":
        signature = meta_signature(body, "not-the-app-secret")
    elif signature == "other-body":
        signature = meta_signature(body.replace(b"Hola", b"Hol4"), APP_SECRET)
    elif signature == "sha1-prefix":
        signature = meta_signature(body, APP_SECRET).replace("sha256=", "sha1=")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_meta(api, alpha, meta_inbox.pk, body, signature=signature)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "invalid_signature"
    assert error["message"] and error["details"] == []
    assert events_of(alpha) == []
    assert inbound_messages(alpha, meta_inbox) == []


@pytest.mark.django_db
def test_a_message_delivered_twice_is_stored_once(api, alpha, meta_inbox, django_capture_on_commit_callbacks):
    body = meta_text_message(PHONE_NUMBER_ID, "5511988887777", "Hola", msg_id="wamid.TWICE")

    with django_capture_on_commit_callbacks(execute=True):
        first = post_meta(api, alpha, meta_inbox.pk, body)
    with django_capture_on_commit_callbacks(execute=True):
        second = post_meta(api, alpha, meta_inbox.pk, body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert [e.status for e in events_of(alpha)] == ["processed", "processed"]
    assert [m.provider_message_id for m in inbound_messages(alpha, meta_inbox)] == ["wamid.TWICE"]
    with schema_context(alpha.schema_name):
        assert Conversation.objects.filter(inbox=meta_inbox).get().unread_count == 1


# --- Meta: GET verification ----------------------------------------------------------------------


@pytest.mark.django_db
def test_meta_verification_echoes_the_challenge_as_plain_text(api, alpha, meta_inbox):
    response = api(alpha).get(
        f"/hooks/whatsapp/{meta_inbox.pk}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"
        "&hub.challenge=1158201444"
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.django_db
def test_meta_verification_works_with_the_generated_verify_token(api, alpha):
    admin = api(alpha, token=api(alpha).login("admin@alpha.example.com")["access"])
    credentials = {key: value for key, value in META_CREDENTIALS.items() if key != "verify_token"}
    created = admin.post(
        "/api/v1/inboxes", {"name": "Meta", "provider": "whatsapp_cloud", "credentials": credentials}
    ).json()

    response = api(alpha).get(
        f"/hooks/whatsapp/{created['id']}?hub.mode=subscribe&hub.verify_token={created['verify_token']}"
        "&hub.challenge=abc123"
    )

    assert response.status_code == 200 and response.content == b"abc123"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "hub.mode=subscribe&hub.verify_token=wrong",
        f"hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}",
        "hub.mode=subscribe",
        f"hub.verify_token={VERIFY_TOKEN}",
        f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN.upper()}",
        f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}x",
    ],
)
def test_meta_verification_with_a_wrong_token_or_mode_is_403(api, alpha, meta_inbox, query):
    response = api(alpha).get(f"/hooks/whatsapp/{meta_inbox.pk}?{query}&hub.challenge=echo-me")

    assert response.status_code == 403
    assert b"echo-me" not in response.content


# --- Twilio --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_twilio_message_signed_over_the_full_url_is_stored_and_processed(
    api, alpha, twilio_inbox, django_capture_on_commit_callbacks
):
    params = twilio_message_params(
        ACCOUNT_SID,
        "+5511977776666",
        TWILIO_NUMBER,
        "Oi, tudo bem?",
        message_sid="SM" + "a" * 32,
        profile_name="João",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(api, alpha, twilio_inbox.pk, params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    [event] = events_of(alpha)
    assert event.status == "processed"
    [message] = inbound_messages(alpha, twilio_inbox)
    assert (message.provider_message_id, message.text) == ("SM" + "a" * 32, "Oi, tudo bem?")
    assert (message.conversation.contact.phone, message.conversation.contact.name) == (
        "+5511977776666",
        "João",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["path-only", "https", "other-host", "tampered", "wrong-token", "missing"])
def test_a_bad_twilio_signature_is_403_and_nothing_is_stored(
    api, alpha, twilio_inbox, django_capture_on_commit_callbacks, case
):
    params = twilio_message_params(ACCOUNT_SID, "+5511977776666", TWILIO_NUMBER, "Oi")
    path = f"/hooks/twilio/{twilio_inbox.pk}"
    signed_url = {
        "path-only": path,
        "https": f"https://{host_of(alpha)}{path}",
        "other-host": f"http://bravo.localhost{path}",
    }.get(case)
    headers = {
        "X-Twilio-Signature": twilio_signature(
            signed_url or f"http://{host_of(alpha)}{path}",
            params,
            "wrong" if case == "wrong-token" else AUTH_TOKEN,
        )
    }
    if case == "missing":
        headers = {}
    sent = {**params, "Body": "Oi, mudei"} if case == "tampered" else params

    with django_capture_on_commit_callbacks(execute=True):
        response = post_raw(api, alpha, path, twilio_body(sent), "application/x-www-form-urlencoded", headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert events_of(alpha) == []
    assert inbound_messages(alpha, twilio_inbox) == []


@pytest.mark.django_db
def test_a_twilio_status_callback_finds_the_message_by_its_send_key(
    api, alpha, twilio_inbox, in_schema, django_capture_on_commit_callbacks
):
    """A worker died after Twilio took the message: we never learnt its sid, only Twilio's callback
    (to the URL carrying our send key) tells us it was delivered."""
    phone = new_phone()
    conversation_id = receive(alpha, twilio_inbox, phone=phone).conversation_id
    admin = api(alpha, token=api(alpha).login("admin@alpha.example.com")["access"])
    # Not inside the capture: the delivery task never runs, so no provider id is recorded.
    sent = admin.post(f"/api/v1/conversations/{conversation_id}/messages", {"text": "Your order shipped"})
    assert sent.status_code == 201
    with in_schema(alpha.schema_name):
        message = Message.objects.get(pk=sent.json()["id"])
    assert (message.status, message.provider_message_id) == ("pending", "")
    sid = "SM" + "b" * 32
    params = twilio_status_params(
        sid, "delivered", account_sid=ACCOUNT_SID, from_phone=TWILIO_NUMBER, to_phone=phone
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(api, alpha, twilio_inbox.pk, params, query=f"?send_key={message.send_key}")

    assert response.status_code == 200
    [event] = events_of(alpha)
    assert (event.send_key, event.status) == (str(message.send_key), "processed")
    with in_schema(alpha.schema_name):
        message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("delivered", sid)
    assert message.delivered_at is not None and message.sent_at is not None
    assert admin.get(f"/api/v1/conversations/{conversation_id}/messages").status_code == 200


@pytest.mark.django_db
def test_a_twilio_status_callback_signed_without_its_query_string_is_refused(
    api, alpha, twilio_inbox, django_capture_on_commit_callbacks
):
    params = twilio_status_params("SM" + "c" * 32, "delivered", account_sid=ACCOUNT_SID)
    path = f"/hooks/twilio/{twilio_inbox.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(
            api,
            alpha,
            twilio_inbox.pk,
            params,
            query=f"?send_key={uuid.uuid4()}",
            signed_url=f"http://{host_of(alpha)}{path}",
        )

    assert response.status_code == 403
    assert events_of(alpha) == []


# --- sandbox -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sandbox_plays_a_customer_message(api, alpha, sandbox_inbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sandbox(
            api, alpha, sandbox_inbox, {"from": "+5511966665555", "name": "Lia", "text": "Quero um orçamento"}
        )

    assert response.status_code == 202
    message_id = response.json()["id"]
    assert message_id and response.json()["status"] == "received"
    assert [e.status for e in events_of(alpha)] == ["processed"]
    [message] = inbound_messages(alpha, sandbox_inbox)
    assert (message.provider_message_id, message.text) == (message_id, "Quero um orçamento")
    assert (message.conversation.contact.phone, message.conversation.contact.name) == (
        "+5511966665555",
        "Lia",
    )


@pytest.mark.django_db
def test_the_sandbox_acknowledges_a_reply_through_its_public_hook(
    api, alpha, sandbox_inbox, django_capture_on_commit_callbacks
):
    from apps.conversations.outbound import message_send

    customer = receive(alpha, sandbox_inbox, text="Hi")
    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        reply = message_send(conversation=customer.conversation, author=None, text="Hello!")
    with schema_context(alpha.schema_name):
        reply.refresh_from_db()
    assert reply.status == "sent"

    with django_capture_on_commit_callbacks(execute=True):
        receipt = {"status": "read", "id": reply.provider_message_id}
        response = post_sandbox(api, alpha, sandbox_inbox, receipt)

    assert response.status_code == 202
    with schema_context(alpha.schema_name):
        reply.refresh_from_db()
    assert reply.status == "read"


@pytest.mark.django_db
def test_the_sandbox_stores_a_message_with_a_callers_id_once(
    api, alpha, sandbox_inbox, django_capture_on_commit_callbacks
):
    payload = {"from": "+5511966665555", "text": "Hi", "id": "retry-me-1"}

    with django_capture_on_commit_callbacks(execute=True):
        first = post_sandbox(api, alpha, sandbox_inbox, payload)
        second = post_sandbox(api, alpha, sandbox_inbox, payload)

    assert [first.json()["id"], second.json()["id"]] == ["retry-me-1", "retry-me-1"]
    assert [m.provider_message_id for m in inbound_messages(alpha, sandbox_inbox)] == ["retry-me-1"]


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_the_sandbox_needs_its_token(api, alpha, sandbox_inbox, django_capture_on_commit_callbacks, token):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sandbox(
            api, alpha, sandbox_inbox, {"from": "+5511966665555", "text": "Hi"}, token=token
        )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert events_of(alpha) == []


@pytest.mark.django_db
def test_one_sandboxs_token_does_not_open_another(api, alpha, sandbox_inbox):
    other = make_inbox(alpha, name="Other")

    response = post_sandbox(
        api, alpha, other, {"from": "+5511966665555", "text": "Hi"}, token=sandbox_inbox.sandbox_token
    )

    assert response.status_code == 403
    assert events_of(alpha) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"from": "5511966665555", "text": "no plus"},
        {"from": "+55 11 96666-5555", "text": "punctuation"},
        {"from": "+123", "text": "too short"},
        {"from": 5511966665555, "text": "a number"},
        {"text": "no from"},
        {"from": "+5511966665555"},
        {"from": "+5511966665555", "text": "Hi", "media_url": "ftp://example.com/a.png"},
    ],
)
def test_an_invalid_sandbox_message_is_422_and_nothing_is_stored(
    api, alpha, sandbox_inbox, django_capture_on_commit_callbacks, payload
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sandbox(api, alpha, sandbox_inbox, payload)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    assert events_of(alpha) == []
    assert inbound_messages(alpha, sandbox_inbox) == []


@pytest.mark.django_db
def test_an_invalid_sandbox_from_names_the_field(api, alpha, sandbox_inbox):
    response = post_sandbox(api, alpha, sandbox_inbox, {"from": "12345", "text": "Hi"})

    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["from"]


@pytest.mark.django_db
def test_a_sandbox_body_that_is_not_json_is_422(api, alpha, sandbox_inbox):
    response = post_raw(
        api,
        alpha,
        f"/hooks/sandbox/{sandbox_inbox.pk}",
        b"from=+5511966665555",
        "application/x-www-form-urlencoded",
        {"X-Sandbox-Token": sandbox_inbox.sandbox_token},
    )

    assert response.status_code == 422
    assert events_of(alpha) == []


# --- which inbox ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhooks_of_an_inactive_inbox_are_404(
    api, alpha, meta_inbox, twilio_inbox, sandbox_inbox, django_capture_on_commit_callbacks
):
    with schema_context(alpha.schema_name):
        for inbox in (meta_inbox, twilio_inbox, sandbox_inbox):
            inbox_update(actor=None, inbox=inbox, is_active=False)
    body = meta_text_message(PHONE_NUMBER_ID, "5511988887777", "Hola")
    params = twilio_message_params(ACCOUNT_SID, "+5511977776666", TWILIO_NUMBER, "Oi")

    with django_capture_on_commit_callbacks(execute=True):
        responses = [
            post_meta(api, alpha, meta_inbox.pk, body),
            api(alpha).get(
                f"/hooks/whatsapp/{meta_inbox.pk}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"
                "&hub.challenge=1"
            ),
            post_twilio(api, alpha, twilio_inbox.pk, params),
            post_sandbox(api, alpha, sandbox_inbox, {"from": "+5511966665555", "text": "Hi"}),
        ]

    assert [r.status_code for r in responses] == [404] * 4
    assert all(r.json()["error"]["code"] == "not_found" for r in responses)
    assert events_of(alpha) == []


@pytest.mark.django_db
def test_a_webhook_to_another_providers_path_is_404(api, alpha, sandbox_inbox, meta_inbox):
    body = meta_text_message(PHONE_NUMBER_ID, "5511988887777", "Hola")

    responses = [
        post_meta(api, alpha, sandbox_inbox.pk, body),
        post_sandbox(api, alpha, meta_inbox, {"from": "+5511966665555", "text": "Hi"}, token="x"),
        post_meta(api, alpha, 987654321, body),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert events_of(alpha) == []


@pytest.mark.django_db
def test_a_suspended_companys_webhooks_are_still_stored_while_its_api_answers_402(
    api, make_company, django_capture_on_commit_callbacks
):
    company = make_company()
    inbox = make_inbox(company)
    agent = make_user(company, role="agent")
    token = api(company).login(agent.email)["access"]
    company_suspend(company=company, reason="unpaid")

    with django_capture_on_commit_callbacks(execute=True):
        hook = post_sandbox(api, company, inbox, {"from": "+5511955554444", "text": "Are you there?"})
    blocked = api(company, token=token).get("/api/v1/conversations")

    assert hook.status_code == 202
    assert [e.status for e in events_of(company)] == ["processed"]
    assert [m.text for m in inbound_messages(company, inbox)] == ["Are you there?"]
    assert blocked.status_code == 402
    assert blocked.json()["error"]["code"] == "company_suspended"


# --- bodies the provider cannot parse ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("whatsapp_cloud", b"this is not json"),
        ("whatsapp_cloud", b"[1, 2, 3]"),
        ("whatsapp_cloud", b'{"entry": "not a list of entries"}'),
        ("twilio", twilio_body({"MessageStatus": "delivered"})),  # a status without MessageSid
    ],
)
def test_an_unparseable_body_is_kept_and_marked_failed_after_the_attempts(
    api, alpha, meta_inbox, twilio_inbox, django_capture_on_commit_callbacks, provider, body
):
    with django_capture_on_commit_callbacks(execute=True):
        if provider == "twilio":
            params = {"MessageStatus": "delivered"}
            response = post_twilio(api, alpha, twilio_inbox.pk, params)
        else:
            response = post_meta(api, alpha, meta_inbox.pk, body)

    # The provider gets its 200: it did nothing wrong that a retry would fix.
    assert response.status_code == 200
    [event] = events_of(alpha)
    assert bytes(event.body) == body
    assert (event.status, event.attempts) == ("pending", 1)
    assert event.error

    results = [webhook_event_process(alpha.schema_name, event.pk).get() for _ in range(MAX_ATTEMPTS)]

    assert results == ["failed"] * (MAX_ATTEMPTS - 1) + ["skipped"]
    [event] = events_of(alpha)
    assert (event.status, event.attempts) == ("failed", MAX_ATTEMPTS)
    assert event.processed_at is None
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


# --- concurrency -----------------------------------------------------------------------------------


def in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_webhook_is_answered_at_once_and_processed_soon_while_another_event_waits_for_a_row(
    api, make_live_company, monkeypatch
):
    """Committed data and real concurrent connections: an event whose contact row someone else
    holds must not make the provider's next delivery wait, nor hold up the company's other
    messages for more than the drain's row lock wait; it is retried once the row is free."""
    monkeypatch.setattr(drain, "ROW_LOCK_WAIT_MS", 500)
    company = make_live_company()
    inbox = make_inbox(company, provider="whatsapp_cloud", credentials=META_CREDENTIALS)
    busy_phone, other_phone = new_phone(), new_phone()
    receive(company, inbox, phone=busy_phone, name="Busy")  # the contact exists (committed)
    release, locked = threading.Event(), threading.Event()
    responses = {}

    def hold_the_busy_contact():
        # Someone (an agent saving the contact, an import) holds the contact's row for a moment.
        with schema_context(company.schema_name), transaction.atomic():
            Contact.objects.select_for_update().get(phone=busy_phone)
            locked.set()
            release.wait(30)

    def deliver(name: str, phone: str):
        body = meta_text_message(PHONE_NUMBER_ID, phone.lstrip("+"), name)
        started = time.monotonic()
        responses[name] = post_meta(api, company, inbox.pk, body)
        responses[f"{name}_seconds"] = time.monotonic() - started

    def inbound_texts() -> set[str]:
        with schema_context(company.schema_name):
            inbound = Message.objects.filter(inbox=inbox, direction="inbound")
            return set(inbound.values_list("text", flat=True))

    threads = [in_thread(hold_the_busy_contact)]
    try:
        assert locked.wait(10)
        # The first webhook is stored and answered; its processing (inline here) waits for the contact.
        threads.append(in_thread(lambda: deliver("first", busy_phone)))
        assert eventually(lambda: backends_waiting_on_locks() >= 1)

        second = in_thread(lambda: deliver("second", other_phone))
        threads.append(second)
        second.join(5)

        assert not second.is_alive(), "the second webhook waited for the first one's processing"
        assert responses["second"].status_code == 200
        # Processed within the row lock wait, not left for the sweep.
        assert eventually(lambda: "second" in inbound_texts(), timeout=5)
        assert "first" not in inbound_texts()
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
        connection.set_schema_to_public()
    assert responses["first"].status_code == 200
    with schema_context(company.schema_name):
        [waited] = WebhookEvent.objects.filter(status="pending")
        assert waited.attempts == 1 and "lock" in waited.error
    assert drain.webhook_event_process.call_local(company.schema_name, waited.pk) == "processed"
    assert "first" in inbound_texts()


# --- forms read two ways, senders the worker cannot store ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["prepended", "appended"])
def test_a_signed_twilio_form_with_injected_fields_is_403_and_nothing_is_stored(
    api, alpha, twilio_inbox, django_capture_on_commit_callbacks, where
):
    """An attacker holding one captured, validly signed POST adds fields of their own with the same
    signature: the signature must not cover one reading of the form while another is stored."""
    params = twilio_message_params(ACCOUNT_SID, "+5511977776666", TWILIO_NUMBER, "Oi")
    path = f"/hooks/twilio/{twilio_inbox.pk}"
    signature = twilio_signature(f"http://{host_of(alpha)}{path}", params, AUTH_TOKEN)
    injected = twilio_body({"MessageSid": "SM" + "e" * 32, "From": "whatsapp:+5511900001111",
                            "Body": "spoofed"})
    signed = twilio_body(params)
    body = injected + b"&" + signed if where == "prepended" else signed + b"&" + injected

    with django_capture_on_commit_callbacks(execute=True):
        response = post_raw(api, alpha, path, body, "application/x-www-form-urlencoded",
                            {"X-Twilio-Signature": signature})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert events_of(alpha) == []
    assert inbound_messages(alpha, twilio_inbox) == []


UNUSABLE_PHONE = "+99912345678"  # the sandbox's "+ and 8 to 15 digits", but no country has code 999


@pytest.mark.django_db
def test_a_sandbox_message_from_a_phone_the_worker_cannot_store_is_422_and_nothing_is_stored(
    api, alpha, sandbox_inbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sandbox(api, alpha, sandbox_inbox, {"from": UNUSABLE_PHONE, "text": "Hi"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    assert [d["field"] for d in error["details"]] == ["from"]
    assert events_of(alpha) == []


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["whatsapp_cloud", "twilio"])
def test_a_signed_provider_message_from_an_unusable_phone_is_refused_not_acknowledged_and_lost(
    api, alpha, meta_inbox, twilio_inbox, django_capture_on_commit_callbacks, provider
):
    """Meta and Twilio retry a non-2xx answer and show it in their consoles; a 200 for a message
    the worker then drops would lose it without anyone knowing."""
    with django_capture_on_commit_callbacks(execute=True):
        if provider == "twilio":
            params = twilio_message_params(ACCOUNT_SID, UNUSABLE_PHONE, TWILIO_NUMBER, "Hi")
            response = post_twilio(api, alpha, twilio_inbox.pk, params)
        else:
            body = meta_text_message(PHONE_NUMBER_ID, UNUSABLE_PHONE.lstrip("+"), "Hi")
            response = post_meta(api, alpha, meta_inbox.pk, body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["message"]
    assert events_of(alpha) == []
