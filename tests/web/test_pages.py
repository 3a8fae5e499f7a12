"""The agents' UI through Django's test client: sign-in per company, pages, actions, isolation."""

import re

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from apps.conversations.models import Conversation, Message, Note
from tests.conftest import host_of
from tests.fixtures.factories import PASSWORD, make_user
from tests.fixtures.messaging import make_inbox, make_template, receive

pytestmark = pytest.mark.django_db


class Browser:
    """A test client on one company's host that keeps its cookies, like a browser tab."""

    def __init__(self, company, client: Client | None = None):
        self.host = host_of(company)
        self.client = client or Client(HTTP_HOST=self.host)

    def _done(self, response):
        connection.set_schema_to_public()
        return response

    def get(self, path, **headers):
        return self._done(self.client.get(path, headers=headers, HTTP_HOST=self.host))

    def post(self, path, data=None, **headers):
        return self._done(self.client.post(path, data or {}, headers=headers, HTTP_HOST=self.host))

    def login(self, user, password=PASSWORD):
        return self.post("/app/login/", {"email": user.email, "password": password})


@pytest.fixture
def team(alpha):
    inbox = make_inbox(alpha)
    return {
        "inbox": inbox,
        "admin": make_user(alpha, role="admin", name="Alice Admin"),
        "ana": make_user(alpha, name="Ana Agent"),
        "bruno": make_user(alpha, name="Bruno Agent"),
    }


def signed_in(company, user) -> Browser:
    browser = Browser(company)
    response = browser.login(user)
    assert response.status_code == 302 and response["Location"] == "/app/", response.content
    return browser


def test_login_page_shows_the_company_brand_and_wrong_password_is_refused(alpha, bravo):
    with schema_context("public"):
        alpha.brand_name, alpha.primary_color = "Alpha Care", "#7c2d12"
        alpha.save()
    page = Browser(alpha).get("/app/login/")
    assert page.status_code == 200
    assert b"Alpha Care" in page.content and b"#7c2d12" in page.content
    assert b"Alpha Care" not in Browser(bravo).get("/app/login/").content

    admin_email = f"admin@{alpha.slug}.example.com"
    refused = Browser(alpha).post("/app/login/", {"email": admin_email, "password": "nope-nope"})
    assert refused.status_code == 401 and b"Wrong email or password" in refused.content


def test_the_ui_needs_a_session_and_redirects_to_login(alpha):
    response = Browser(alpha).get("/app/")
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    assert Browser(alpha).get("/").status_code == 302


def test_a_session_of_one_company_is_not_signed_in_on_another(alpha, bravo, team):
    browser = signed_in(alpha, team["admin"])
    assert browser.get("/app/").status_code == 200
    cookie = browser.client.cookies["sessionid"].value

    # Same session id presented to bravo's host: bravo's schema has no such session.
    other = Client(HTTP_HOST=host_of(bravo))
    other.cookies["sessionid"] = cookie
    response = Browser(bravo, other).get("/app/")
    assert response.status_code == 302 and "/app/login/" in response["Location"]


def test_inbox_lists_conversations_by_tab_with_unread_badges(alpha, team):
    s = team
    receive(alpha, s["inbox"], text="Where is my order?", name="Carla Cliente")
    browser = signed_in(alpha, s["ana"])
    page = browser.get("/app/?tab=unassigned").content.decode()
    assert "Carla Cliente" in page
    assert re.search(r'data-unread="unassigned"[^>]*>\s*\d+', page)
    assert "Carla Cliente" not in browser.get("/app/?tab=mine").content.decode()
    counts = browser.get("/app/counts/").json()
    assert counts["unassigned"]["count"] >= 1 and counts["unassigned"]["unread"] >= 1


def test_opening_a_conversation_marks_it_read_and_shows_the_timeline(alpha, team):
    s = team
    message = receive(alpha, s["inbox"], text="Olá, preciso de ajuda")
    browser = signed_in(alpha, s["ana"])
    page = browser.get(f"/app/c/{message.conversation_id}/")
    assert page.status_code == 200
    assert "Olá, preciso de ajuda" in page.content.decode()
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=message.conversation_id).unread_count == 0


def test_times_are_shown_in_the_company_time_zone_and_the_api_stays_in_utc(alpha, team, api):
    import datetime as dt

    s = team
    message = receive(alpha, s["inbox"], text="Que horas são?")
    at = dt.datetime(2026, 3, 10, 15, 5, tzinfo=dt.UTC)
    with schema_context(alpha.schema_name):
        Message.objects.filter(pk=message.pk).update(created_at=at)
    with schema_context("public"):
        alpha.time_zone = "America/Sao_Paulo"  # UTC-3
        alpha.save()

    page = signed_in(alpha, s["admin"]).get(f"/app/c/{message.conversation_id}/").content.decode()
    assert ">12:05</time>" in page and ">15:05</time>" not in page

    token = api(alpha).login(s["admin"].email)["access"]
    items = api(alpha, token).get(f"/api/v1/conversations/{message.conversation_id}/messages").json()["items"]
    assert dt.datetime.fromisoformat(items[0]["created_at"].replace("Z", "+00:00")) == at


def test_agent_cannot_open_or_act_on_a_colleagues_conversation(alpha, team):
    s = team
    conversation_id = receive(alpha, s["inbox"]).conversation_id
    admin = signed_in(alpha, s["admin"])
    assert admin.post(f"/app/c/{conversation_id}/assign/", {"assignee_id": s["bruno"].pk}).status_code == 200

    ana = signed_in(alpha, s["ana"])
    assert ana.get(f"/app/c/{conversation_id}/").status_code == 404
    assert ana.post(f"/app/c/{conversation_id}/send/", {"text": "hi"}).status_code == 404
    assert ana.post(f"/app/c/{conversation_id}/assign_me/").status_code == 404
    assert ana.get(f"/app/c/{conversation_id}/row/").content == b""
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).assignee_id == s["bruno"].pk


def test_a_conversation_of_another_company_is_404(alpha, bravo, team):
    conversation_id = receive(alpha, team["inbox"]).conversation_id
    bravo_admin = make_user(bravo, role="admin")
    browser = signed_in(bravo, bravo_admin)
    assert browser.get(f"/app/c/{conversation_id}/").status_code == 404
    assert browser.post(f"/app/c/{conversation_id}/send/", {"text": "x"}).status_code == 404


def test_reply_note_and_actions_from_the_composer(alpha, team):
    s = team
    conversation_id = receive(alpha, s["inbox"], text="Hi").conversation_id
    browser = signed_in(alpha, s["ana"])
    assert browser.post(f"/app/c/{conversation_id}/assign_me/").status_code == 200

    sent = browser.post(f"/app/c/{conversation_id}/send/", {"text": "Hello! How can I help?"})
    assert sent.status_code == 200 and "Hello! How can I help?" in sent.content.decode()
    note = browser.post(f"/app/c/{conversation_id}/send/", {"text": "VIP customer", "mode": "note"})
    assert "VIP customer" in note.content.decode()
    browser.post(f"/app/c/{conversation_id}/priority/", {"priority": "high"})
    browser.post(f"/app/c/{conversation_id}/add_label/", {"label": "billing"})
    closed = browser.post(f"/app/c/{conversation_id}/close/", {"reason": "solved", "outcome": "information"})
    assert closed.status_code == 200

    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        assert conversation.status == "closed"
        assert (conversation.priority, conversation.labels) == ("high", ["billing"])
        assert conversation.outcome == "information"
        assert Message.objects.filter(conversation_id=conversation_id, direction="outbound").count() == 1
        assert Note.objects.filter(conversation_id=conversation_id, text="VIP customer").exists()


def test_refused_actions_explain_why_and_change_nothing(alpha, team):
    s = team
    conversation_id = receive(alpha, s["inbox"]).conversation_id
    browser = signed_in(alpha, s["admin"])
    too_long = browser.post(f"/app/c/{conversation_id}/send/", {"text": "x" * 4097})
    assert too_long["HX-Retarget"] == "#composer-error" and b"4096" in too_long.content
    refused = browser.post(f"/app/c/{conversation_id}/status/", {"status": "archived"})
    assert refused["HX-Retarget"] == "#flash" and b"Allowed" in refused.content
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).status == "queued"
        assert not Message.objects.filter(conversation_id=conversation_id, direction="outbound").exists()


def test_outside_the_window_the_composer_offers_templates_only(alpha, team):
    import datetime as dt

    from django.utils import timezone

    s = team
    template = make_template(alpha, s["inbox"])
    old = timezone.now() - dt.timedelta(days=2)
    conversation_id = receive(alpha, s["inbox"], at=old).conversation_id
    with schema_context(alpha.schema_name):
        Conversation.objects.filter(pk=conversation_id).update(last_inbound_at=old)
    browser = signed_in(alpha, s["admin"])
    page = browser.get(f"/app/c/{conversation_id}/").content.decode()
    assert 'id="template-form"' in page and 'id="composer-form"' not in page
    sent = browser.post(f"/app/c/{conversation_id}/template/",
                        {"template_id": template.pk, "var1": "Carla", "var2": "#123"})
    assert "Hi Carla, your order #123 shipped." in sent.content.decode()


def test_language_follows_the_user(alpha, team):
    browser = signed_in(alpha, team["ana"])
    browser.post("/app/profile/", {"name": "Ana", "language": "es"})
    page = browser.get("/app/").content.decode()
    assert 'lang="es"' in page


def test_realtime_token_is_bound_to_the_company(alpha, team):
    from apps.accounts.authentication import user_for_access_token

    browser = signed_in(alpha, team["ana"])
    token = browser.get("/app/realtime-token/").json()["token"]
    with schema_context(alpha.schema_name):
        assert user_for_access_token(token).pk == team["ana"].pk


def test_notes_and_events_since_a_moment_arrive_for_live_updates(alpha, team):
    import time

    s = team
    conversation_id = receive(alpha, s["inbox"]).conversation_id
    browser = signed_in(alpha, s["admin"])
    before = time.time()
    browser.post(f"/app/c/{conversation_id}/send/", {"text": "Call them back", "mode": "note"})
    browser.post(f"/app/c/{conversation_id}/assign/", {"assignee_id": s["ana"].pk})
    newer = browser.get(f"/app/c/{conversation_id}/newer/?after={before}").content.decode()
    assert "Call them back" in newer and "assigned it to Ana Agent" in newer
    assert "Call them back" not in browser.get(
        f"/app/c/{conversation_id}/newer/?after={time.time() + 1}").content.decode()


def test_unknown_pages_are_a_branded_404(alpha, team):
    browser = signed_in(alpha, team["admin"])
    response = browser.get("/app/c/999999/")
    assert response.status_code == 404 and b"Back to the inbox" in response.content


def test_signing_in_makes_an_offline_agent_available_but_keeps_a_chosen_status(alpha, team):
    from apps.accounts.models import User
    from apps.accounts.services import user_set_status

    signed_in(alpha, team["ana"])
    with schema_context(alpha.schema_name):
        assert User.objects.get(pk=team["ana"].pk).status == "available"
        user_set_status(user=team["bruno"], status="busy")
    signed_in(alpha, team["bruno"])
    with schema_context(alpha.schema_name):
        assert User.objects.get(pk=team["bruno"].pk).status == "busy"


def test_the_bell_shows_unread_notifications_on_every_page(alpha, team):
    from apps.notifications.services import notify

    with schema_context(alpha.schema_name):
        notify(users=[team["ana"]], kind="assigned", title="Carla is yours")
    page = signed_in(alpha, team["ana"]).get("/app/").content.decode()
    assert re.search(r'id="notifications-badge"\s*>1<', page)
    other = signed_in(alpha, team["bruno"]).get("/app/").content.decode()
    assert re.search(r'id="notifications-badge"\s+hidden', other)


def test_the_header_alone_follows_changes_and_stays_private(alpha, team):
    s = team
    message = receive(alpha, s["inbox"], text="Hello?")
    conversation_id = message.conversation_id
    admin = signed_in(alpha, s["admin"])
    admin.post(f"/app/c/{conversation_id}/assign/", {"assignee_id": s["bruno"].pk})
    admin.post(f"/app/c/{conversation_id}/add_label/", {"label": "vip"})
    receive(alpha, s["inbox"], text="Still there?", phone=message.conversation.contact.phone)

    head = signed_in(alpha, s["bruno"]).get(f"/app/c/{conversation_id}/head/")
    html = head.content.decode()
    assert head.status_code == 200 and 'id="conversation-head"' in html
    assert "vip" in html and "Open" in html
    assert 'id="timeline"' not in html  # the timeline is not rendered again
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).unread_count == 0
    assert signed_in(alpha, s["ana"]).get(f"/app/c/{conversation_id}/head/").status_code == 404
