"""Flows in the agents' UI (server side): who reaches the pages, the structured editor saving a
draft and marking each node with its own problems, adding and removing nodes, the diagram with
visits, publishing and the tester's simulate endpoint."""

import json
import re

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.flows.models import Flow
from tests.fixtures.factories import make_user
from tests.flows.conftest import make_flow
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def editor_fields(page: str) -> dict:
    """The editor form's current values, as a browser would post them back."""
    form = page[page.index('id="flow-editor"') : page.index("</form>", page.index('id="flow-editor"'))]
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        data[name] = value
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = body
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', options)
        data[name] = chosen.group(1) if chosen else ""
    for name in re.findall(r'<input type="checkbox"[^>]*name="([^"]+)"[^>]*checked', form):
        data[name] = "1"
    return {
        name: value.replace("&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")
        for name, value in data.items()
    }


def simulate(browser, flow_id: int, inputs: list[str]):
    response = browser.client.post(
        f"/app/flows/{flow_id}/simulate/",
        json.dumps({"inputs": inputs}),
        content_type="application/json",
        HTTP_HOST=browser.host,
    )
    connection.set_schema_to_public()
    return response


def test_only_managers_reach_the_flow_pages(alpha):
    flow = make_flow(alpha)
    agent = signed_in(alpha, make_user(alpha, name="Ana Agent"))
    supervisor = signed_in(alpha, make_user(alpha, role="supervisor"))

    assert b'href="/app/flows/"' not in agent.get("/app/").content
    assert agent.get("/app/flows/").status_code == 403
    assert agent.get(f"/app/flows/{flow.pk}/").status_code == 403
    assert agent.post(f"/app/flows/{flow.pk}/publish/").status_code == 403
    assert b'href="/app/flows/"' in supervisor.get("/app/").content
    assert supervisor.get(f"/app/flows/{flow.pk}/").status_code == 200


def test_another_companys_flow_page_is_not_found(alpha, bravo):
    flow = make_flow(alpha)
    bravo_admin = signed_in(bravo, make_user(bravo, role="admin"))

    assert bravo_admin.get(f"/app/flows/{flow.pk}/").status_code == 404
    assert simulate(bravo_admin, flow.pk, []).status_code == 404


def test_the_editor_marks_the_node_with_a_problem_and_saves_nothing(alpha):
    flow = make_flow(alpha, publish=False)
    browser = signed_in(alpha, make_user(alpha, role="admin"))
    page = browser.get(f"/app/flows/{flow.pk}/").content.decode()
    assert 'data-node="menu"' in page and "<svg" in page
    fields = editor_fields(page)
    menu_index = next(name for name, value in fields.items() if value == "menu" and name.endswith("-id"))[:-2]
    fields[menu_index + "opt-0-next"] = ""

    response = browser.post(f"/app/flows/{flow.pk}/", {**fields, "action": "save"})

    assert response.status_code == 422
    page = response.content.decode()
    card = page[page.index('id="node-menu"') : page.index("</fieldset>", page.index('id="node-menu"'))]
    assert "Choose where the option “Sales” leads." in card
    with schema_context(alpha.schema_name):
        assert Flow.objects.get(pk=flow.pk).graph["nodes"]["menu"]["options"][0]["next"] == "ask_email"


def test_adding_linking_and_saving_a_node_then_publishing(alpha):
    flow = make_flow(alpha, publish=False)
    browser = signed_in(alpha, make_user(alpha, role="supervisor"))
    fields = editor_fields(browser.get(f"/app/flows/{flow.pk}/").content.decode())

    added = browser.post(
        f"/app/flows/{flow.pk}/", {**fields, "new_id": "pause", "new_type": "delay", "action": "add"}
    )
    assert added.status_code == 200
    fields = editor_fields(added.content.decode())
    pause = next(name for name, value in fields.items() if value == "pause" and name.endswith("-id"))[:-2]
    welcome = next(name for name, value in fields.items() if value == "welcome" and name.endswith("-id"))[:-2]
    fields.update({pause + "seconds": "5", pause + "next": "menu", welcome + "next": "pause"})
    saved = browser.post(f"/app/flows/{flow.pk}/", {**fields, "action": "save"})
    published = browser.post(f"/app/flows/{flow.pk}/publish/")

    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert published.status_code == 302
    with schema_context(alpha.schema_name):
        flow.refresh_from_db()
        assert flow.graph["nodes"]["pause"] == {"type": "delay", "seconds": 5, "next": "menu"}
        assert flow.graph["nodes"]["welcome"]["next"] == "pause"
        assert flow.published_version.number == 1
        assert flow.published_version.graph == flow.graph
    page = browser.get(f"/app/flows/{flow.pk}/").content.decode()
    assert "Live: version 1" in page


def test_the_tester_plays_the_saved_draft(alpha):
    flow = make_flow(alpha, publish=False)
    browser = signed_in(alpha, make_user(alpha, role="admin", name="Paula Prado"))

    response = simulate(browser, flow.pk, ["2"])

    body = response.json()
    assert body["transcript"][0] == {"from": "bot", "text": "Hi Paula! This is Acme."}
    assert body["ended_by"] == "handoff"


def test_a_new_flow_starts_from_a_working_draft(alpha):
    browser = signed_in(alpha, make_user(alpha, role="admin"))

    response = browser.post(
        "/app/flows/", {"name": "Night desk", "trigger_type": "keyword", "keywords": "hi, menu"}
    )

    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        flow = Flow.objects.get(name="Night desk")
    assert (flow.trigger_type, flow.trigger_keywords) == ("keyword", ["hi", "menu"])
    assert response["Location"] == f"/app/flows/{flow.pk}/"
    refused = browser.post("/app/flows/", {"name": "", "trigger_type": "manual"})
    assert refused.status_code == 422


def test_a_bad_timeout_in_the_settings_is_shown_and_nothing_is_saved(alpha):
    flow = make_flow(alpha, publish=False)
    browser = signed_in(alpha, make_user(alpha, role="admin"))
    fields = editor_fields(browser.get(f"/app/flows/{flow.pk}/").content.decode())

    response = browser.post(
        f"/app/flows/{flow.pk}/", {**fields, "timeout_minutes": "soon", "name": "Renamed"}
    )

    assert response.status_code == 422
    assert "1 minute to 7 days." in response.content.decode()
    with schema_context(alpha.schema_name):
        assert Flow.objects.get(pk=flow.pk).name == "Welcome bot"
