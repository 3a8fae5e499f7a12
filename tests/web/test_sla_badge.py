"""The SLA badge in the conversation's header: the deadline an agent works against, counting down,
late once it passes, and a plain "breached" once the SLA sweep has flagged it — in the agent's
language."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.conversations.models import Conversation
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import Browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(alpha):
    admin = make_user(alpha, role="admin")
    browser = Browser(alpha)
    assert browser.login(admin).status_code == 302
    conversation = receive(alpha, make_inbox(alpha)).conversation_id
    return {"admin": admin, "browser": browser, "conversation": conversation}


def _in(minutes: float) -> dt.datetime:
    # Ten seconds of slack: the page rounds to the minute a moment after the test sets the time.
    return timezone.now() + dt.timedelta(minutes=minutes, seconds=10 if minutes > 0 else 0)


def _set(alpha, conversation_id, **fields):
    with schema_context(alpha.schema_name):
        Conversation.objects.filter(pk=conversation_id).update(**fields)


def _badge(desk) -> str:
    html = desk["browser"].get(f"/app/c/{desk['conversation']}/head/").content.decode()
    found = re.search(r'<span class="pill sla [^"]*".*?</span>', html, re.S)
    return found.group(0) if found else ""


def test_the_first_response_deadline_counts_down_then_turns_late(desk, alpha):
    assert _badge(desk) == ""  # no SLA, no badge

    _set(alpha, desk["conversation"], first_response_due_at=_in(42))
    badge = _badge(desk)
    assert "First response" in badge and "in 42 min" in badge and "sla-ok" in badge
    assert "data-countdown" in badge  # the script keeps it current

    _set(alpha, desk["conversation"], first_response_due_at=_in(5))
    assert "sla-soon" in _badge(desk)

    _set(alpha, desk["conversation"], first_response_due_at=_in(-7))
    badge = _badge(desk)
    assert "7 min late" in badge and "sla-late" in badge


def test_after_the_first_answer_the_resolution_deadline_shows(desk, alpha):
    now = timezone.now()
    _set(alpha, desk["conversation"], first_response_at=now, first_response_due_at=_in(60),
         resolution_due_at=_in(180))
    badge = _badge(desk)
    assert "Resolution" in badge and "First response" not in badge and "in 180 min" in badge


def test_a_flagged_breach_says_so_and_a_closed_conversation_has_no_countdown(desk, alpha):
    _set(alpha, desk["conversation"], sla_breached=True, first_response_due_at=timezone.now())
    assert "SLA breached" in _badge(desk)

    _set(alpha, desk["conversation"], sla_breached=False, status="closed")
    assert _badge(desk) == ""


def test_the_badge_speaks_the_agents_language(desk, alpha):
    with schema_context(alpha.schema_name):
        User.objects.filter(pk=desk["admin"].pk).update(language="es")
    _set(alpha, desk["conversation"], first_response_due_at=_in(30))
    badge = _badge(desk)
    assert "Primera respuesta" in badge and "en 30 min" in badge


def test_the_inbox_row_carries_the_same_badge(desk, alpha):
    _set(alpha, desk["conversation"], first_response_due_at=_in(-3))
    html = desk["browser"].get("/app/?tab=all").content.decode()
    row = re.search(rf'<li id="row-{desk["conversation"]}".*?</li>', html, re.S).group(0)
    assert "sla-late" in row and "First response" in row and "3 min late" in row
