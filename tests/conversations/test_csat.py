"""Customer satisfaction (SPEC §6): the rating request once per close through the normal outbound
path, inside the 24-hour window only; numbered replies (and their comment) that do not reopen the
conversation; the branded rating page behind a signed, expiring, company-bound link."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.conversations import csat
from apps.conversations.inbound_bulk import messages_receive
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.services import conversation_close, conversation_reopen
from apps.inboxes.services import inbox_create
from tenants.models import Company
from tests.conftest import host_of
from tests.fixtures.factories import PASSWORD, make_user
from tests.fixtures.messaging import inbound, new_phone, receive

pytestmark = pytest.mark.django_db


def csat_inbox(company, mode="reply", message=""):
    with schema_context(company.schema_name):
        return inbox_create(actor=None, name="Support", provider="sandbox", credentials={},
                            csat_enabled=True, csat_mode=mode, csat_message=message)


def close(company, conversation_id, capture, **kwargs):
    with capture(execute=True), schema_context(company.schema_name):
        conversation_close(conversation=Conversation.objects.get(pk=conversation_id), actor=None, **kwargs)


def requests_sent(company, conversation_id) -> list[str]:
    with schema_context(company.schema_name):
        return list(Message.objects.filter(
            conversation_id=conversation_id, direction="outbound", sender_type="system",
        ).order_by("pk").values_list("text", flat=True))


def conversation(company, conversation_id) -> Conversation:
    with schema_context(company.schema_name):
        return Conversation.objects.get(pk=conversation_id)


def skipped(company, conversation_id) -> list[str]:
    with schema_context(company.schema_name):
        return [event.data["reason"] for event in TimelineEvent.objects.filter(
            conversation_id=conversation_id, kind="csat_skipped")]


@pytest.mark.parametrize("text, expected", [
    ("5", (5, "")), (" 4. ", (4, "")), ("5 - great", (5, "great")), ("3: slow but ok", (3, "slow but ok")),
    ("1️⃣", (1, "")), ("2\u20e3", (2, "")), ("5-great", (5, "great")),
    ("6", None), ("10", None), ("0", None), ("hello", None), ("54", None), ("", None),
])
def test_a_numbered_reply_is_read_as_a_rating(text, expected):
    assert csat.parse_rating(text) == expected


def test_a_reply_rates_and_comments_without_reopening(alpha, django_capture_on_commit_callbacks):
    inbox = csat_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone, text="My order is late")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    assert requests_sent(alpha, first.conversation_id) == [
        "How would you rate our service? Reply with a number from 1 (very bad) to 5 (excellent)."
    ]

    with django_capture_on_commit_callbacks(execute=True) as published:
        rating = receive(alpha, inbox, phone=phone, text="4️⃣")
    comment = receive(alpha, inbox, phone=phone, text="Quick, but the courier was rude")

    assert rating.conversation_id == comment.conversation_id == first.conversation_id
    rated = conversation(alpha, first.conversation_id)
    assert (rated.status, rated.csat_rating, rated.csat_comment) == (
        "closed", 4, "Quick, but the courier was rude")
    assert rated.csat_answered_at is not None
    assert len(published) >= 1  # conversation.updated for the rating, after commit

    # Anything after the comment is an ordinary message: the normal reopen rule applies.
    again = receive(alpha, inbox, phone=phone, text="One more thing about my order")
    assert again.conversation_id == first.conversation_id
    assert conversation(alpha, first.conversation_id).status == "queued"


def test_a_reply_that_is_not_a_rating_reopens_as_usual(alpha, django_capture_on_commit_callbacks):
    inbox = csat_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone, text="Hello")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    receive(alpha, inbox, phone=phone, text="Wait, I still need help")
    reopened = conversation(alpha, first.conversation_id)
    assert reopened.status == "queued" and reopened.csat_rating is None


def test_a_burst_from_the_drain_rates_the_same_way(alpha, django_capture_on_commit_callbacks):
    inbox = csat_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone, text="Hello")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        stored = messages_receive([
            (inbox, inbound(phone=phone, text="5 - great service", at=now)),
            (inbox, inbound(phone=new_phone(), text="A new customer", at=now)),
        ])
    assert stored[0].conversation_id == first.conversation_id
    rated = conversation(alpha, first.conversation_id)
    assert (rated.status, rated.csat_rating, rated.csat_comment) == ("closed", 5, "great service")
    assert stored[1].conversation_id != first.conversation_id


def test_one_request_per_close_and_a_reopened_then_closed_conversation_is_asked_again(
    alpha, django_capture_on_commit_callbacks,
):
    inbox = csat_inbox(alpha, message="Rate us 1-5, please!")
    first = receive(alpha, inbox, text="Hello")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    with schema_context(alpha.schema_name):
        assert csat.csat_request_send(conversation_id=first.conversation_id) is None  # a retried task
    assert requests_sent(alpha, first.conversation_id) == ["Rate us 1-5, please!"]

    with schema_context(alpha.schema_name):
        conversation_reopen(conversation=Conversation.objects.get(pk=first.conversation_id), actor=None)
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    assert requests_sent(alpha, first.conversation_id) == ["Rate us 1-5, please!"] * 2


def test_no_request_outside_the_window_for_spam_or_without_csat(alpha, django_capture_on_commit_callbacks):
    inbox = csat_inbox(alpha)
    stale = receive(alpha, inbox, text="Hello", at=timezone.now() - dt.timedelta(hours=30))
    close(alpha, stale.conversation_id, django_capture_on_commit_callbacks)
    assert requests_sent(alpha, stale.conversation_id) == []
    assert skipped(alpha, stale.conversation_id) == ["outside_service_window"]

    spam = receive(alpha, inbox, text="Buy cheap followers")
    close(alpha, spam.conversation_id, django_capture_on_commit_callbacks, reason="Spam")
    assert requests_sent(alpha, spam.conversation_id) == []
    assert skipped(alpha, spam.conversation_id) == ["spam"]

    with schema_context(alpha.schema_name):
        plain = inbox_create(actor=None, name="No survey", provider="sandbox", credentials={})
    quiet = receive(alpha, plain, text="Hello")
    close(alpha, quiet.conversation_id, django_capture_on_commit_callbacks)
    assert requests_sent(alpha, quiet.conversation_id) == [] and skipped(alpha, quiet.conversation_id) == []


# --- the rating page -----------------------------------------------------------------------------

def link_of(company, conversation_id) -> str:
    text = requests_sent(company, conversation_id)[-1]
    found = re.search(r"https?://[^/\s]+(/csat/\S+)$", text)
    assert found, text
    return found.group(1)


def test_the_link_page_is_branded_and_stores_the_rating_with_csrf(alpha, django_capture_on_commit_callbacks):
    Company.objects.filter(pk=alpha.pk).update(brand_name="Alpha Shoes", default_language="es")
    inbox = csat_inbox(alpha, mode="link")
    first = receive(alpha, inbox, text="Hola")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    path = link_of(alpha, first.conversation_id)
    assert requests_sent(alpha, first.conversation_id)[-1].startswith("¿")  # in the company's language

    browser = Client(HTTP_HOST=host_of(alpha), enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha Shoes" in html and 'lang="es"' in html and 'name="rating"' in html
    assert browser.post(path, {"rating": "4"}).status_code == 403  # no CSRF token: refused
    token = browser.cookies["csrftoken"].value
    bad = browser.post(path, {"rating": "9", "csrfmiddlewaretoken": token})
    assert bad.status_code == 422 and conversation(alpha, first.conversation_id).csat_rating is None
    done = browser.post(path, {"rating": "4", "comment": "Muy amables", "csrfmiddlewaretoken": token})
    assert done.status_code == 200 and b"csat-thanks" in done.content
    rated = conversation(alpha, first.conversation_id)
    assert (rated.status, rated.csat_rating, rated.csat_comment) == ("closed", 4, "Muy amables")
    # A second answer replaces the first; the timeline keeps both.
    browser.post(path, {"rating": "5", "csrfmiddlewaretoken": token})
    assert conversation(alpha, first.conversation_id).csat_rating == 5
    with schema_context(alpha.schema_name):
        answers = TimelineEvent.objects.filter(conversation_id=first.conversation_id, kind="csat_answered")
        assert answers.count() == 2


def test_forged_expired_and_other_companies_tokens_are_404(
    alpha, bravo, django_capture_on_commit_callbacks, monkeypatch,
):
    inbox = csat_inbox(alpha, mode="link")
    first = receive(alpha, inbox, text="Hello")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    path = link_of(alpha, first.conversation_id)
    alpha_client, bravo_client = Client(HTTP_HOST=host_of(alpha)), Client(HTTP_HOST=host_of(bravo))

    assert bravo_client.get(path).status_code == 404
    assert bravo_client.post(path, {"rating": "1"}).status_code == 404
    assert alpha_client.get(path[:-3] + "abc").status_code == 404
    with schema_context(alpha.schema_name):
        other = csat.link_token(first.conversation_id + 1)  # a real signature, no survey sent there
    assert alpha_client.get(f"/csat/{other}").status_code == 404
    monkeypatch.setattr(csat, "LINK_TTL", dt.timedelta(seconds=-1))
    assert alpha_client.get(path).status_code == 404
    assert conversation(alpha, first.conversation_id).csat_rating is None


def test_the_rating_shows_in_the_agents_conversation_panel(alpha, django_capture_on_commit_callbacks):
    inbox = csat_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone, text="Hello")
    close(alpha, first.conversation_id, django_capture_on_commit_callbacks)
    receive(alpha, inbox, phone=phone, text="3 - could be faster")
    admin = make_user(alpha, role="admin")
    client = Client(HTTP_HOST=host_of(alpha))
    assert client.post("/app/login/", {"email": admin.email, "password": PASSWORD}).status_code == 302
    html = client.get(f"/app/c/{first.conversation_id}/").content.decode()
    assert "Rating 3/5" in html and "could be faster" in html
    assert "The customer rated the service 3/5" in html


def test_an_admin_turns_csat_on_in_the_inbox_settings_in_their_language(alpha):
    with schema_context(alpha.schema_name):
        inbox = inbox_create(actor=None, name="Support", provider="sandbox", credentials={})
    admin = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        User.objects.filter(pk=admin.pk).update(language="es")
    client = Client(HTTP_HOST=host_of(alpha))
    assert client.post("/app/login/", {"email": admin.email, "password": PASSWORD}).status_code == 302
    page = client.get(f"/app/settings/inboxes/{inbox.pk}/").content.decode()
    assert "Pedir a los clientes que califiquen la atención" in page and 'name="csat_mode"' in page
    saved = client.post(f"/app/settings/inboxes/{inbox.pk}/", {
        "name": "Support", "rate_limit_per_second": "80", "reopen_window_hours": "24",
        "csat_enabled": "on", "csat_mode": "link", "csat_message": "¿Qué tal lo hicimos?",
    })
    assert saved.status_code == 302
    with schema_context(alpha.schema_name):
        inbox.refresh_from_db()
    assert (inbox.csat_enabled, inbox.csat_mode, inbox.csat_message) == (True, "link", "¿Qué tal lo hicimos?")
