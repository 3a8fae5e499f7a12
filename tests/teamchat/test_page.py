"""The team chat page of the agents' UI: who gets it, and what it starts with."""

import json
import re

import pytest
from django_tenants.utils import schema_context

from tests.fixtures.factories import make_user
from tests.web.test_pages import Browser

pytestmark = pytest.mark.django_db


def test_every_agent_gets_the_page_with_the_companys_people_and_a_nav_link(alpha, bravo):
    ana = make_user(alpha, name="Ana")
    make_user(alpha, name="Bruno")
    make_user(bravo, name="Someone Of Bravo")
    browser = Browser(alpha)
    browser.login(ana)

    response = browser.get("/app/team-chat/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/app/team-chat/" aria-current="page"' in html
    found = re.search(r'id="tc-colleagues" type="application/json">(.*?)</script>', html)
    colleagues = json.loads(found.group(1))
    names = {person["name"] for person in colleagues}
    assert {"Ana", "Bruno"} <= names and "Someone Of Bravo" not in names
    assert 'src="/static/web/teamchat.js"' in html


def test_signed_out_visitors_are_sent_to_the_login(alpha):
    response = Browser(alpha).get("/app/team-chat/")
    assert response.status_code == 302 and "/app/login/" in response["Location"]


def test_the_navigation_shows_what_the_user_has_not_read_in_their_rooms(alpha):
    from apps.teamchat.services import message_send, room_create

    ana, bruno = make_user(alpha, name="Ana"), make_user(alpha, name="Bruno")
    with schema_context(alpha.schema_name):
        room = room_create(actor=ana, name="Ops", member_ids=[bruno.pk])
        for text in ("one", "two"):
            message_send(actor=ana, room=room, text=text)
    browser = Browser(alpha)
    browser.login(bruno)

    html = browser.get("/app/").content.decode()

    assert re.search(r'id="team-chat-badge"[^>]*>2</span>', html)
