"""The webhook fast path (apps/inboxes/fast_webhooks.py): on the live server, and in process where a
database error must hand the request, body included, to Django."""

import asyncio
import logging
from urllib.parse import parse_qs

import psycopg
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.inboxes.fast_webhooks import WebhookFastPath
from apps.inboxes.models import WebhookEvent
from tenants import dns
from tenants.domains import domain_add, domain_remove, domain_verify, txt_record_for
from tenants.models import Domain
from tests.conftest import host_of
from tests.fakes import webhooks
from tests.fixtures.live_tenant import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    Tenant,
    wait_until,
)
from tests.fixtures.messaging import make_inbox

pytestmark = [pytest.mark.live]

META_CREDENTIALS = {
    "phone_number_id": PHONE_NUMBER_ID, "business_account_id": "waba-1", "access_token": TOKEN,
    "app_secret": APP_SECRET,
}


def by_fast_path(response) -> bool:
    """Django's SecurityMiddleware adds this header to every answer of the tenant stack; the fast
    path sends a content type and a length only."""
    return "x-content-type-options" not in response.headers


def events(company) -> list[WebhookEvent]:
    with schema_context(company.schema_name):
        return list(WebhookEvent.objects.order_by("id"))


def meta_body(text: str) -> bytes:
    """The same bytes for the same text (Meta's redelivery)."""
    return webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987650100", text, name="Ana",
                                      msg_id=f"wamid.{text}", timestamp=1767225600)


def meta_headers(body: bytes, secret: str = APP_SECRET) -> dict:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": webhooks.meta_signature(body, secret)}


def twilio_inbox(tenant: Tenant, fake) -> dict:
    response = tenant.api("post", "/inboxes", json={
        "name": "Twilio",
        "provider": "twilio",
        "credentials": {
            "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": "whatsapp:+14155238886",
            "api_base_url": fake.url,
        },
    })
    assert response.status_code == 201, response.text
    return response.json()


# --- on the live server -----------------------------------------------------------------------------


def test_a_signed_meta_webhook_is_stored_by_the_fast_path_and_becomes_one_message(tenant, fake, worker):
    inbox = tenant.meta_inbox(fake)
    body = meta_body("Oi, tudo bem?")

    # Meta delivers it twice
    responses = [tenant.post_meta(inbox["id"], body) for _ in range(2)]

    for response in responses:
        assert response.status_code == 200 and response.json() == {"status": "received"}
        assert response.headers["content-type"] == "application/json" and by_fast_path(response)
    conversation = wait_until(lambda: tenant.conversations())[0]
    wait_until(lambda: [event.status for event in events(tenant.company)] == ["processed"] * 2)
    assert [m["text"] for m in tenant.messages(conversation["id"])] == ["Oi, tudo bem?"]
    assert [(bytes(e.body), e.content_type, e.send_key) for e in events(tenant.company)] == [
        (body, "application/json", "")
    ] * 2


def test_the_fast_path_answers_byte_for_byte_as_the_view(tenant, fake):
    inbox = tenant.meta_inbox(fake)
    body = meta_body("Same answer?")

    fast = tenant.post_meta(inbox["id"], body)
    # Django's tenant middleware drops "www."; the fast path leaves such hosts to Django.
    with tenant.server.client(f"www.{tenant.host}") as client:
        django = client.post(f"/hooks/whatsapp/{inbox['id']}", content=body, headers=meta_headers(body))

    assert by_fast_path(fast) and not by_fast_path(django)
    assert (fast.status_code, fast.headers["content-type"], fast.content) == (
        django.status_code, django.headers["content-type"], django.content
    )
    assert len(events(tenant.company)) == 2


def test_another_company_s_inbox_or_a_wrong_secret_is_django_s_refusal_and_stores_nothing(
    asgi_server, make_live_company, fake
):
    a, b = Tenant(asgi_server, make_live_company()), Tenant(asgi_server, make_live_company())
    inbox = a.meta_inbox(fake)
    warm = a.post_meta(inbox["id"], meta_body("warm-up"))
    assert warm.status_code == 200 and by_fast_path(warm)  # host and inbox now cached
    body = meta_body("Not for B")

    on_b = b.post_meta(inbox["id"], body)  # A's inbox id with A's valid signature, on B's host
    forged = a.post_meta(inbox["id"], body, signature=webhooks.meta_signature(body, "not-the-app-secret"))

    assert on_b.status_code == 404 and on_b.json()["error"]["code"] == "not_found"
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "invalid_signature"
    assert not by_fast_path(on_b) and not by_fast_path(forged)
    assert [bytes(e.body) for e in events(a.company)] == [meta_body("warm-up")] and events(b.company) == []


@pytest.mark.parametrize("first", ["old", "new"])
def test_a_rotated_app_secret_applies_at_once(tenant, fake, first):
    inbox = tenant.meta_inbox(fake)
    warm = tenant.post_meta(inbox["id"], meta_body("before"))
    assert warm.status_code == 200 and by_fast_path(warm)  # the old secret is cached
    rotated = tenant.api("patch", f"/inboxes/{inbox['id']}", json={"credentials": {"app_secret": "rotated"}})
    assert rotated.status_code == 200, rotated.text
    body = meta_body("after")
    secrets = {"old": APP_SECRET, "new": "rotated"}

    order = [first, "new" if first == "old" else "old"]
    responses = {
        name: tenant.post_meta(inbox["id"], body, signature=webhooks.meta_signature(body, secrets[name]))
        for name in order
    }

    assert responses["old"].status_code == 403
    assert responses["new"].status_code == 200 and by_fast_path(responses["new"])
    assert [bytes(e.body) for e in events(tenant.company)] == [meta_body("before"), body]


def test_a_deactivated_inbox_is_404_at_once(tenant, fake):
    inbox = tenant.meta_inbox(fake)
    warm = tenant.post_meta(inbox["id"], meta_body("before"))
    assert warm.status_code == 200 and by_fast_path(warm)
    assert tenant.api("patch", f"/inboxes/{inbox['id']}", json={"is_active": False}).status_code == 200

    response = tenant.post_meta(inbox["id"], meta_body("after"))

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert [bytes(e.body) for e in events(tenant.company)] == [meta_body("before")]


def test_a_custom_domain_takes_webhooks_only_while_it_is_verified(asgi_server, make_live_company, fake,
                                                                   monkeypatch):
    tenant = Tenant(asgi_server, make_live_company(plan="enterprise"))
    inbox = tenant.meta_inbox(fake)
    custom = f"hooks.{tenant.company.slug}.test"
    domain = domain_add(company=tenant.company, domain=custom)
    record = txt_record_for(domain)
    monkeypatch.setattr(dns, "txt_records", lambda name: [record["value"]] if name == record["name"] else [])

    def post(text: str):
        body = meta_body(text)
        with asgi_server.client(custom) as client:
            return client.post(f"/hooks/whatsapp/{inbox['id']}", content=body, headers=meta_headers(body))

    unverified = post("unverified")
    domain = domain_verify(domain=domain)
    verified = post("verified")
    # No service takes a verification back; an operator may, in the database.
    Domain.objects.filter(pk=domain.pk).update(verified_at=None)
    revoked = post("revoked")
    domain = domain_verify(domain=Domain.objects.get(pk=domain.pk))
    again = post("verified again")
    domain_remove(domain=domain)
    removed = post("removed")

    assert unverified.status_code == 404 and revoked.status_code == 404
    assert verified.status_code == again.status_code == 200 and by_fast_path(verified) and by_fast_path(again)
    assert removed.status_code in (400, 404)  # unknown host, or not served (a process's list may lag)
    stored = [bytes(e.body) for e in events(tenant.company)]
    assert stored == [meta_body("verified"), meta_body("verified again")]


def test_a_signed_twilio_webhook_is_stored_with_its_send_key_and_a_forged_one_refused(tenant, fake, worker):
    inbox = twilio_inbox(tenant, fake)
    path = f"/hooks/twilio/{inbox['id']}?send_key=sk-42"
    params = webhooks.twilio_message_params(TWILIO_SID, "+5511987650104", "+14155238886", "Hola!")
    signed = {"X-Twilio-Signature": webhooks.twilio_signature(tenant.url(path), params, TWILIO_TOKEN)}

    ok = tenant.http.post(path, data=params, headers=signed)
    forged = tenant.http.post(path, data={**params, "Body": "changed"}, headers=signed)
    www = f"www.{tenant.host}"
    with tenant.server.client(www) as client:  # through Django, for its answer
        url = f"http://{www}:{tenant.server.port}{path}"
        django = client.post(path, data=params, headers={
            "X-Twilio-Signature": webhooks.twilio_signature(url, params, TWILIO_TOKEN)
        })

    assert ok.status_code == 200 and by_fast_path(ok) and not by_fast_path(django)
    assert (ok.status_code, ok.headers["content-type"], ok.content) == (
        django.status_code, django.headers["content-type"], django.content
    )
    assert forged.status_code == 403
    stored = events(tenant.company)
    form = "application/x-www-form-urlencoded"
    assert [(e.content_type, e.send_key) for e in stored] == [(form, "sk-42")] * 2
    assert {key: values[0] for key, values in parse_qs(bytes(stored[0].body).decode()).items()} == params
    conversation = wait_until(lambda: tenant.conversations())[0]
    wait_until(lambda: [event.status for event in events(tenant.company)] == ["processed"] * 2)
    assert [m["text"] for m in tenant.messages(conversation["id"])] == ["Hola!"]


def test_a_signed_twilio_form_with_prepended_fields_is_refused_by_the_fast_path_and_django(tenant, fake):
    """One captured, validly signed POST replayed with fields of the attacker's in front: refused
    (403) whether the fast path or Django reads it, and nothing stored."""
    inbox = twilio_inbox(tenant, fake)
    path = f"/hooks/twilio/{inbox['id']}"
    params = webhooks.twilio_message_params(TWILIO_SID, "+5511987650105", "+14155238886", "Real")
    injected = webhooks.twilio_body({"MessageSid": "SM" + "f" * 32, "From": "whatsapp:+5511900002222",
                                     "Body": "spoofed"})
    body = injected + b"&" + webhooks.twilio_body(params)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    fast = tenant.http.post(path, content=body, headers={
        **form, "X-Twilio-Signature": webhooks.twilio_signature(tenant.url(path), params, TWILIO_TOKEN)})
    www = f"www.{tenant.host}"
    with tenant.server.client(www) as client:  # through Django
        url = f"http://{www}:{tenant.server.port}{path}"
        signature = webhooks.twilio_signature(url, params, TWILIO_TOKEN)
        django = client.post(path, content=body, headers={**form, "X-Twilio-Signature": signature})

    assert fast.status_code == django.status_code == 403
    assert fast.json()["error"]["code"] == django.json()["error"]["code"] == "invalid_signature"
    assert events(tenant.company) == []


def test_a_signed_meta_message_from_an_unusable_phone_is_422_and_nothing_is_stored(tenant, fake):
    inbox = tenant.meta_inbox(fake)
    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "99912345678", "Hi", msg_id="wamid.unusable")

    response = tenant.post_meta(inbox["id"], body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["message"]
    assert events(tenant.company) == []


# --- in process: the wrapper around a stand-in for Django -------------------------------------------


class DjangoStandIn:
    """The application behind the fast path: records each request and the body it reads."""

    def __init__(self):
        self.requests = []

    async def __call__(self, scope, receive, send):
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.requests.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"stand-in"})


def meta_scope(host: str, inbox_id: int, body: bytes) -> dict:
    headers = {"host": host, "content-type": "application/json", "content-length": str(len(body)),
               "x-hub-signature-256": webhooks.meta_signature(body, APP_SECRET)}
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": f"/hooks/whatsapp/{inbox_id}", "raw_path": f"/hooks/whatsapp/{inbox_id}".encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
    }


def call(app: WebhookFastPath, scope: dict, chunks: list[bytes]) -> list[dict]:
    """Serve one request as uvicorn would, the body in `chunks`; returns what the app sent."""
    messages = [{"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
                for index, chunk in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def serve():
        try:
            await app(scope, receive, send)
        finally:
            await app.aclose()

    asyncio.run(serve())
    return sent


@pytest.fixture
def company_with_inbox(make_live_company):
    company = make_live_company()
    return company, make_inbox(company, provider="whatsapp_cloud", credentials=META_CREDENTIALS)


def test_in_process_the_fast_path_stores_without_django_and_queues_one_drain(
    company_with_inbox, queue_to_redis
):
    company, inbox = company_with_inbox
    django = DjangoStandIn()
    app = WebhookFastPath(django, database=connection.settings_dict)
    bodies = [meta_body("one"), meta_body("two")]

    answers = [call(app, meta_scope(host_of(company), inbox.pk, body), [body]) for body in bodies]

    assert django.requests == []
    for sent in answers:
        assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"status": "received"}'
    assert [bytes(e.body) for e in events(company)] == bodies
    assert queue_to_redis.pending_count() == 1  # the second found the drain flag up


def test_in_process_an_unreachable_database_hands_the_whole_body_to_django(
    company_with_inbox, queue_to_redis, caplog
):
    company, inbox = company_with_inbox
    django = DjangoStandIn()
    missing = {
        **connection.settings_dict, "NAME": "conversa_no_such_database", "OPTIONS": {"pool": {"timeout": 1}}
    }
    app = WebhookFastPath(django, database=missing)
    body = meta_body("to Django")

    with caplog.at_level(logging.ERROR, logger="conversa.webhooks"):
        sent = call(app, meta_scope(host_of(company), inbox.pk, body), [body[:40], body[40:]])

    assert django.requests == [(f"/hooks/whatsapp/{inbox.pk}", body)]
    assert sent[0]["status"] == 418  # Django's answer, whatever it is
    assert any(record.name == "conversa.webhooks" and record.exc_info for record in caplog.records)
    assert events(company) == []


def test_in_process_a_failing_insert_with_warm_caches_goes_to_django(
    company_with_inbox, queue_to_redis, caplog
):
    company, inbox = company_with_inbox
    django = DjangoStandIn()
    app = WebhookFastPath(django, database=connection.settings_dict)
    scope = meta_scope(host_of(company), inbox.pk, meta_body("warm"))
    assert call(app, scope, [meta_body("warm")])[0]["status"] == 200
    schema = company.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{schema}".inboxes_webhookevent RENAME TO inboxes_webhookevent_away')
    try:
        with caplog.at_level(logging.ERROR, logger="conversa.webhooks"):
            body = meta_body("cold")
            sent = call(app, meta_scope(host_of(company), inbox.pk, body), [body])
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{schema}".inboxes_webhookevent_away RENAME TO inboxes_webhookevent')

    assert django.requests == [(f"/hooks/whatsapp/{inbox.pk}", body)] and sent[0]["status"] == 418
    assert any(record.exc_info and isinstance(record.exc_info[1], psycopg.errors.UndefinedTable)
               for record in caplog.records)
    assert [bytes(e.body) for e in events(company)] == [meta_body("warm")]
