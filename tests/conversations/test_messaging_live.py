"""Messaging end to end: a real server, Huey workers, websocket clients and the fake providers."""

import signal
import time

import pytest
from django_tenants.utils import schema_context

from apps.conversations.models import Message
from tests.fakes import webhooks
from tests.fixtures import live
from tests.fixtures.factories import make_user
from tests.fixtures.live_tenant import (
    PHONE_NUMBER_ID,
    TWILIO_SID,
    TWILIO_TOKEN,
    VERIFY_TOKEN,
    Tenant,
    socket_frames,
    wait_until,
)

pytestmark = [pytest.mark.live]


# --- acceptance 1: inbound webhooks ---------------------------------------------------------------


def test_a_signed_meta_webhook_reaches_an_agent_socket_once(tenant, fake, worker):
    inbox = tenant.meta_inbox(fake)
    agent = make_user(tenant.company)
    agent_token = tenant.login(agent.email)
    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987650001", "Olá, preciso de ajuda", name="Joana")

    frames = socket_frames(
        tenant, agent_token, lambda: tenant.post_meta(inbox["id"], body), want="message.created"
    )

    created = [f for f in frames if f["type"] == "message.created"]
    assert created and created[0]["data"]["text"] == "Olá, preciso de ajuda"
    conversation_id = created[0]["data"]["conversation_id"]
    # delivered again by Meta: still one message
    assert tenant.post_meta(inbox["id"], body).status_code == 200
    time.sleep(0.5)
    assert len(tenant.messages(conversation_id)) == 1
    conversation = tenant.api("get", f"/conversations/{conversation_id}").json()
    assert conversation["contact"]["phone"] == "+5511987650001"
    assert conversation["contact"]["name"] == "Joana"


def test_a_bad_meta_signature_is_403_and_stores_nothing(tenant, fake, worker):
    inbox = tenant.meta_inbox(fake)
    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987650002", "forged")

    response = tenant.post_meta(inbox["id"], body, signature=webhooks.meta_signature(body, "wrong-secret"))
    unsigned = tenant.http.post(
        f"/hooks/whatsapp/{inbox['id']}", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 403 and unsigned.status_code == 403
    time.sleep(0.3)
    assert tenant.conversations() == []
    with schema_context(tenant.company.schema_name):
        from apps.inboxes.models import WebhookEvent

        assert not WebhookEvent.objects.exists()


def test_meta_verification_echoes_the_challenge_only_for_the_right_token(tenant, fake):
    inbox = tenant.meta_inbox(fake)
    path = f"/hooks/whatsapp/{inbox['id']}"
    ok = tenant.http.get(
        path,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    bad = tenant.http.get(
        path, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert bad.status_code == 403 and "1158201444" not in bad.text


def test_a_signed_twilio_webhook_is_stored_once_and_a_bad_one_refused(tenant, fake, worker):
    response = tenant.api(
        "post",
        "/inboxes",
        json={
            "name": "Twilio",
            "provider": "twilio",
            "credentials": {
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "from_number": "whatsapp:+14155238886",
                "api_base_url": fake.url,
            },
        },
    )
    inbox = response.json()
    url = tenant.url(f"/hooks/twilio/{inbox['id']}")
    params = webhooks.twilio_message_params(TWILIO_SID, "+5511987650003", "+14155238886", "Hola!")
    signed = {"X-Twilio-Signature": webhooks.twilio_signature(url, params, TWILIO_TOKEN)}

    for _ in range(2):
        ok = tenant.http.post(f"/hooks/twilio/{inbox['id']}", data=params, headers=signed)
        assert ok.status_code == 200
    forged = tenant.http.post(
        f"/hooks/twilio/{inbox['id']}", data={**params, "Body": "changed"}, headers=signed
    )
    assert forged.status_code == 403

    conversation = wait_until(lambda: tenant.conversations())[0]
    time.sleep(0.5)
    messages = tenant.messages(conversation["id"])
    assert [m["text"] for m in messages] == ["Hola!"]


# --- acceptance 2: exactly once through failures and restarts -------------------------------------


def _customer_writes(tenant: Tenant, inbox: dict, phone: str) -> int:
    body = webhooks.meta_text_message(PHONE_NUMBER_ID, phone, "Where is my order?")
    assert tenant.post_meta(inbox["id"], body).status_code == 200
    return wait_until(lambda: tenant.conversations())[0]["id"]


def _status(tenant, inbox, wamid, status, phone):
    body = webhooks.meta_status(PHONE_NUMBER_ID, wamid, status, recipient=phone)
    assert tenant.post_meta(inbox["id"], body).status_code == 200


@pytest.mark.proof
@pytest.mark.timeout(240)
def test_a_reply_is_sent_once_through_a_500_and_a_worker_restart(tenant, fake, tmp_path, queue_to_redis):
    fake.reset()
    worker = live.start_worker(tmp_path / "first.log")
    try:
        inbox = tenant.meta_inbox(fake)
        conversation_id = _customer_writes(tenant, inbox, "5511987650010")
        fake.fail_next(1, status=500)

        reply = tenant.api("post", f"/conversations/{conversation_id}/messages", json={"text": "On its way!"})
        assert reply.status_code == 201 and reply.json()["status"] == "pending"
        wait_until(lambda: fake.failed)  # the first attempt got its 500…
        wait_until(lambda: _outbound_status(tenant.company, "pending"))  # …and its retry waits 2 s
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        live.stop(worker)
    restarted = live.start_worker(tmp_path / "second.log")
    try:
        # Usually the scheduled retry (2 s); on a loaded machine the kill can land after the old
        # worker took the task from the queue, and then the minutely recovery requeues it once its
        # retry time is a minute past.
        assert fake.wait_for_accepted(1, timeout=150)
        message = wait_until(
            lambda: [
                m
                for m in tenant.messages(conversation_id)
                if m["direction"] == "outbound" and m["status"] == "sent"
            ]
        )[0]
        time.sleep(2.5)  # any duplicate retry would have fired by now
        assert fake.count_accepted() == 1
        assert fake.accepted[0].json["text"]["body"] == "On its way!"
        wamid = message["provider_message_id"]

        for status in ("delivered", "read"):
            _status(tenant, inbox, wamid, status, "5511987650010")
            wait_until(lambda s=status: tenant.messages(conversation_id)[0]["status"] == s)
    finally:
        live.stop(restarted)


def test_statuses_arriving_in_reverse_order_end_at_read(tenant, fake, worker):
    fake.reset()
    inbox = tenant.meta_inbox(fake)
    conversation_id = _customer_writes(tenant, inbox, "5511987650011")
    tenant.api("post", f"/conversations/{conversation_id}/messages", json={"text": "Thanks!"})
    assert fake.wait_for_accepted(1, timeout=10)
    wamid = wait_until(
        lambda: [
            m
            for m in tenant.messages(conversation_id)
            if m["provider_message_id"] and m["direction"] == "outbound"
        ]
    )[0]["provider_message_id"]

    for status in ("read", "delivered", "sent"):
        _status(tenant, inbox, wamid, status, "5511987650011")
    time.sleep(1.0)
    outbound = [m for m in tenant.messages(conversation_id) if m["direction"] == "outbound"][0]
    assert outbound["status"] == "read"
    assert outbound["delivered_at"] and outbound["read_at"]


@pytest.mark.proof
def test_a_worker_killed_mid_send_never_sends_twice_and_the_status_settles_it(
    tenant,
    fake,
    tmp_path,
    queue_to_redis,
):
    fake.reset()
    inbox = tenant.meta_inbox(fake)
    first = live.start_worker(tmp_path / "first.log")
    try:
        conversation_id = _customer_writes(tenant, inbox, "5511987650012")
        fake.delay_next(4.0)
        tenant.api("post", f"/conversations/{conversation_id}/messages", json={"text": "Almost there"})
        wait_until(lambda: _outbound_status(tenant.company, "sending"))
        time.sleep(1.5)  # claimed, paced and posted: the provider is holding the request
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        live.stop(first)
    assert fake.wait_for_accepted(1, timeout=8)
    second = live.start_worker(tmp_path / "second.log")
    try:
        time.sleep(3)
        assert fake.count_accepted() == 1
        record = fake.accepted[0]
        wamid_sent = record.json["biz_opaque_callback_data"]
        # Meta's status webhook echoes our send key; it settles the unknown outcome.
        body = webhooks.meta_status(
            PHONE_NUMBER_ID,
            "wamid.from-meta",
            "delivered",
            recipient="5511987650012",
            callback_data=wamid_sent,
        )
        assert tenant.post_meta(inbox["id"], body).status_code == 200
        wait_until(lambda: _outbound_status(tenant.company, "delivered"))
        assert fake.count_accepted() == 1
    finally:
        live.stop(second)


def _outbound_status(company, status: str) -> bool:
    with schema_context(company.schema_name):
        return Message.objects.filter(direction="outbound", status=status).exists()


# --- acceptance 4: the inbox rate holds across workers ---------------------------------------------


@pytest.mark.proof
def test_two_workers_never_exceed_the_inbox_rate_and_send_everything_once(
    tenant,
    fake,
    tmp_path,
    queue_to_redis,
):
    from apps.conversations.models import Conversation
    from apps.conversations.outbound import message_send

    fake.reset()
    inbox = tenant.meta_inbox(fake, rate=20)
    conversation_id = _customer_writes_without_worker(tenant, inbox)
    with schema_context(tenant.company.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        for n in range(200):  # 10 s of both workers contending at the inbox's rate
            message_send(conversation=conversation, author=None, text=f"bulk {n}")
    workers = [live.start_worker(tmp_path / f"w{n}.log", workers=4) for n in range(2)]

    # Only this inbox's sends: a late retry of an earlier test's message must not count here.
    def ours(record) -> bool:
        return record.json.get("text", {}).get("body", "").startswith("bulk ")

    try:
        assert fake.wait_for_accepted(200, timeout=90, where=ours)
        time.sleep(1)
        bodies = [r.json["text"]["body"] for r in fake.accepted if ours(r)]
        assert len(bodies) == 200 and len(set(bodies)) == 200
        assert fake.max_in_window(1.0, where=ours) <= 20
    finally:
        for process in workers:
            live.stop(process)


def _customer_writes_without_worker(tenant: Tenant, inbox: dict) -> int:
    from apps.inboxes.models import Inbox
    from tests.fixtures.messaging import receive

    with schema_context(tenant.company.schema_name):
        stored = Inbox.objects.get(pk=inbox["id"])
    return receive(tenant.company, stored, phone="+5511987650020").conversation_id


# --- acceptance 5: who receives what ---------------------------------------------------------------


def test_an_agent_never_receives_events_of_another_agents_conversation(tenant, fake, worker):
    inbox = tenant.meta_inbox(fake)
    ana, bruno = make_user(tenant.company, name="Ana"), make_user(tenant.company, name="Bruno")
    conversation_id = _customer_writes(tenant, inbox, "5511987650030")
    assigned = tenant.api("post", f"/conversations/{conversation_id}/assign", json={"assignee_id": bruno.pk})
    assert assigned.status_code == 200

    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987650030", "for Bruno only")
    ana_frames = socket_frames(
        tenant,
        tenant.login(ana.email),
        lambda: tenant.post_meta(inbox["id"], body),
        want="message.created",
        timeout=2.0,
    )
    assert [f for f in ana_frames if f["type"].startswith(("message.", "conversation."))] == []

    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987650030", "second for Bruno")
    bruno_frames = socket_frames(
        tenant, tenant.login(bruno.email), lambda: tenant.post_meta(inbox["id"], body), want="message.created"
    )
    assert bruno_frames[-1]["data"]["text"] == "second for Bruno"
    # and Ana cannot open it by id
    assert (
        tenant.api("get", f"/conversations/{conversation_id}", token=tenant.login(ana.email)).status_code
        == 404
    )
