"""The sandbox customer page: sends go through the stored-webhook path; receipts move the agent's ticks."""

import json

import pytest
from django_tenants.utils import schema_context

from apps.conversations import outbound
from apps.conversations.models import Conversation, Message
from apps.inboxes.models import Inbox, WebhookEvent
from apps.inboxes.providers.base import DELIVERED, READ
from apps.inboxes.providers.sandbox import SandboxProvider
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, new_phone
from tests.web.test_pages import signed_in
from tests.web.test_settings import ids_beyond

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(alpha):
    return {"inbox": make_inbox(alpha, name="Sandbox line"), "agent": make_user(alpha, name="Sara Agent")}


def text_of(response) -> str:
    return response.content.decode()


def thread_url(inbox, phone) -> str:
    return f"/app/sandbox/{inbox.pk}/thread/?phone={phone.replace('+', '%2B')}"


def send_as_customer(browser, inbox, phone, text, name="Carla Cliente", capture=None, **headers):
    with capture(execute=True):
        return browser.post(f"/app/sandbox/{inbox.pk}/send/", {"phone": phone, "name": name, "text": text},
                            **headers)


def reply(alpha, agent, conversation_id, text, capture):
    """The agent answers; the (inline) worker delivers it through the sandbox provider."""
    with schema_context(alpha.schema_name), capture(execute=True):
        conversation = Conversation.objects.get(pk=conversation_id)
        message = outbound.message_send(conversation=conversation, author=agent, text=text)
    with schema_context(alpha.schema_name):
        message.refresh_from_db()
    return message


def test_any_signed_in_user_can_open_the_sandbox_page(alpha, setup):
    browser = signed_in(alpha, setup["agent"])
    page = browser.get("/app/sandbox/")
    assert page.status_code == 200 and "Sandbox line" in text_of(page)
    assert 'aria-current="page"' in text_of(page)


def test_a_bad_phone_is_refused_next_to_the_field(alpha, setup):
    browser = signed_in(alpha, setup["agent"])
    page = browser.get(f"/app/sandbox/?inbox={setup['inbox'].pk}&phone=12ab")
    assert page.status_code == 422
    assert 'aria-describedby="sandbox-phone-error"' in text_of(page)


def test_sending_stores_a_webhook_event_and_the_worker_creates_the_message(
    alpha, setup, django_capture_on_commit_callbacks,
):
    inbox, phone = setup["inbox"], new_phone()
    browser = signed_in(alpha, setup["agent"])
    response = send_as_customer(browser, inbox, phone, "Olá, quero saber do meu pedido",
                                capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302 and phone.replace("+", "%2B") in response["Location"]

    with schema_context(alpha.schema_name):
        event = WebhookEvent.objects.filter(inbox=inbox).latest("id")
        body = json.loads(bytes(event.body))
        assert body["from"] == phone and body["text"] == "Olá, quero saber do meu pedido"
        assert body["name"] == "Carla Cliente" and body["id"].startswith("sbx_in_")
        assert event.status == WebhookEvent.Status.PROCESSED
        message = Message.objects.get(inbox=inbox, provider_message_id=body["id"])
        assert message.direction == "inbound" and message.conversation.contact.phone == phone
        assert message.conversation.contact.name == "Carla Cliente"

    page = browser.get(response["Location"])
    assert "Olá, quero saber do meu pedido" in text_of(page)
    # the message reaches the agents' inbox as any customer message would
    assert "Carla Cliente" in text_of(browser.get("/app/?tab=unassigned"))


def test_htmx_send_answers_with_the_thread_and_an_empty_text_is_refused(
    alpha, setup, django_capture_on_commit_callbacks,
):
    inbox, phone = setup["inbox"], new_phone()
    browser = signed_in(alpha, setup["agent"])
    thread = send_as_customer(browser, inbox, phone, "Hi there", capture=django_capture_on_commit_callbacks,
                              HX_Request="true")
    assert thread.status_code == 200 and 'id="sandbox-thread"' in text_of(thread)
    assert "Hi there" in text_of(thread)

    empty = send_as_customer(browser, inbox, phone, "  ", capture=django_capture_on_commit_callbacks,
                             HX_Request="true")
    assert empty["HX-Retarget"] == "#sandbox-send-error" and "required" in text_of(empty)
    with schema_context(alpha.schema_name):
        assert WebhookEvent.objects.filter(inbox=inbox).count() == 1


def test_a_message_not_yet_processed_shows_as_waiting(alpha, setup):
    inbox, phone = setup["inbox"], new_phone()
    browser = signed_in(alpha, setup["agent"])
    # Without running the commit callbacks the worker never sees the event: it stays pending.
    browser.post(f"/app/sandbox/{inbox.pk}/send/", {"phone": phone, "name": "Pat", "text": "On its way"})
    thread = browser.get(thread_url(inbox, phone))
    assert thread.status_code == 200 and "On its way" in text_of(thread) and "waiting" in text_of(thread)


def test_the_thread_shows_replies_and_answers_204_while_nothing_changes(
    alpha, setup, django_capture_on_commit_callbacks,
):
    inbox, phone = setup["inbox"], new_phone()
    browser = signed_in(alpha, setup["agent"])
    send_as_customer(browser, inbox, phone, "Question", capture=django_capture_on_commit_callbacks)
    with schema_context(alpha.schema_name):
        conversation_id = Message.objects.get(inbox=inbox, text="Question").conversation_id
    sent = reply(alpha, setup["agent"], conversation_id, "Answer from the team",
                 django_capture_on_commit_callbacks)
    assert sent.status == "sent" and sent.provider_message_id

    url = thread_url(inbox, phone)
    thread = browser.get(url)
    html = text_of(thread)
    assert "Question" in html and "Answer from the team" in html
    assert f'data-reply-id="{sent.pk}" data-status="sent"' in html
    version = html.split("&amp;v=", 1)[1].split('"', 1)[0]
    assert browser.get(f"{url}&v={version}").status_code == 204


def test_receipts_move_the_reply_to_delivered_then_read_and_never_back(
    alpha, setup, django_capture_on_commit_callbacks,
):
    inbox, phone = setup["inbox"], new_phone()
    browser = signed_in(alpha, setup["agent"])
    send_as_customer(browser, inbox, phone, "Hello?", capture=django_capture_on_commit_callbacks)
    with schema_context(alpha.schema_name):
        conversation_id = Message.objects.get(inbox=inbox, text="Hello?").conversation_id
    sent = reply(alpha, setup["agent"], conversation_id, "Hello! How can we help?",
                 django_capture_on_commit_callbacks)

    def receipt(status):
        with django_capture_on_commit_callbacks(execute=True):
            response = browser.post(f"/app/sandbox/{inbox.pk}/receipts/", {"status": status, "id": [sent.pk]})
        assert response.status_code == 204
        with schema_context(alpha.schema_name):
            sent.refresh_from_db()
        return sent

    assert receipt(DELIVERED).status == "delivered" and sent.delivered_at is not None
    with schema_context(alpha.schema_name):
        events = WebhookEvent.objects.filter(inbox=inbox).order_by("-id")
        assert json.loads(bytes(events[0].body)) == {"status": "delivered", "id": sent.provider_message_id}
        assert events[0].status == WebhookEvent.Status.PROCESSED
    assert receipt(READ).status == "read" and sent.read_at is not None
    # A late "delivered" (as from a retrying phone) never moves it back; the page does not even send it.
    assert receipt(DELIVERED).status == "read"
    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        from apps.inboxes.intake import webhook_receive

        body = json.dumps({"status": "delivered", "id": sent.provider_message_id}).encode()
        webhook_receive(inbox=inbox, body=body, content_type="application/json")
    with schema_context(alpha.schema_name):
        sent.refresh_from_db()
        assert sent.status == "read"

    # The agent's timeline shows the read ticks.
    admin = signed_in(alpha, make_user(alpha, role="admin"))
    page = text_of(admin.get(f"/app/c/{conversation_id}/"))
    assert 'data-status="read"' in page


def test_receipts_are_refused_for_unknown_statuses(alpha, setup):
    browser = signed_in(alpha, setup["agent"])
    response = browser.post(f"/app/sandbox/{setup['inbox'].pk}/receipts/", {"status": "sent", "id": ["1"]})
    assert response.status_code == 422


def test_the_sandbox_of_another_company_is_404(alpha, bravo):
    ids_beyond(alpha, bravo, Inbox)
    inbox = make_inbox(alpha, name="Alpha sandbox line")
    browser = signed_in(bravo, make_user(bravo))
    phone = new_phone()
    assert browser.post(f"/app/sandbox/{inbox.pk}/send/", {"phone": phone, "text": "x"}).status_code == 404
    assert browser.get(thread_url(inbox, phone)).status_code == 404
    receipts = browser.post(f"/app/sandbox/{inbox.pk}/receipts/", {"status": "read", "id": ["1"]})
    assert receipts.status_code == 404
    assert "Alpha sandbox line" not in text_of(browser.get("/app/sandbox/"))
    with schema_context(alpha.schema_name):
        assert not WebhookEvent.objects.filter(inbox=inbox).exists()


def test_non_sandbox_inboxes_are_not_offered(alpha, setup):
    twilio = make_inbox(alpha, provider="twilio", name="Real Twilio line",
                        credentials={"account_sid": "AC1", "auth_token": "t", "from_number": "+14155238886"})
    browser = signed_in(alpha, setup["agent"])
    assert "Real Twilio line" not in text_of(browser.get("/app/sandbox/"))
    refused = browser.post(f"/app/sandbox/{twilio.pk}/send/", {"phone": new_phone(), "text": "x"})
    assert refused.status_code == 404


# --- the provider ---------------------------------------------------------------------------------

def test_sandbox_provider_parses_a_status_body():
    provider = SandboxProvider({"sandbox_token": "t"})
    batch = provider.parse_webhook(body=b'{"status": "read", "id": "sbx_123"}', 
                                   content_type="application/json")
    assert batch.messages == [] and len(batch.statuses) == 1
    assert (batch.statuses[0].provider_message_id, batch.statuses[0].status) == ("sbx_123", "read")
    for body in (b'{"status": "sent", "id": "sbx_1"}', b'{"status": "read"}', b'{"status": "read", "id": 5}'):
        with pytest.raises(ValueError):
            provider.parse_webhook(body=body, content_type="application/json")
