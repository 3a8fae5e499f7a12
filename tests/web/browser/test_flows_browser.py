"""Bot flows in a real browser (issue 17, acceptance 6): a supervisor builds a 5-node flow in the
structured editor, tries it in the tester, publishes it, then plays it as a customer on the sandbox
page, where the live worker answers through the same engine."""

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.messaging import new_phone

pytestmark = [pytest.mark.live, pytest.mark.browser]


def add_node(page, node_id: str, kind: str) -> None:
    page.fill("#flow-new-id", node_id)
    page.select_option("#flow-new-type", kind)
    page.locator("#flow-add-node").click()
    expect(page.locator(f"#node-{node_id}")).to_be_visible()


def test_a_supervisor_builds_tests_publishes_and_a_customer_plays_a_flow(chromium, team):
    sara = team.add_user("sara", role="supervisor", name="Sara Supervisor")
    with team.server.client(team.host) as http:  # the server's first page is slow on a busy machine
        assert http.get("/app/login/").status_code == 200
    page = sign_in(chromium, team, sara, path="/app/flows/")
    problems = []  # script errors and CSP violations
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.fill("#flow-name", "Front desk")
    page.select_option("#flow-trigger-type", "new_conversation")
    page.select_option("#flow-inbox", str(team.inbox.pk))
    page.locator("#flow-create").click()
    expect(page).to_have_url(re.compile(r".*/app/flows/\d+/$"))
    for node_id, kind in (("menu", "menu"), ("ask", "question"), ("human", "handoff")):
        add_node(page, node_id, kind)
    page.select_option("#node-welcome select[name$='-next']", "menu")
    menu = page.locator("#node-menu")
    menu.locator("textarea[name$='-text']").fill("How can we help?")
    menu.locator("input[name$='-opt-0-label']").fill("Sales")
    menu.locator("select[name$='-opt-0-next']").select_option("ask")
    menu.locator("input[name$='-opt-1-label']").fill("Support")
    menu.locator("select[name$='-opt-1-next']").select_option("human")
    ask = page.locator("#node-ask")
    ask.locator("textarea[name$='-text']").fill("Your email?")
    ask.locator("input[name$='-variable']").fill("email")
    ask.locator("select[name$='-vtype']").select_option("email")
    ask.locator("select[name$='-next']").select_option("bye")
    page.locator("#node-bye textarea[name$='-text']").fill("Thanks, we will write to {{email}}.")
    page.locator("#node-human textarea[name$='-text']").fill("A person will answer you.")

    page.locator("#flow-save").click()
    expect(page.locator(".flash.ok")).to_contain_text("Draft saved.")
    expect(page.locator("#flow-diagram .flow-node")).to_have_count(5)

    transcript = page.locator("#flow-transcript .bubble p")
    expect(transcript).to_have_text(["Hello! 👋", "How can we help?\n1. Sales\n2. Support"])
    page.fill("#flow-tester-input", "1")
    page.press("#flow-tester-input", "Enter")
    expect(transcript.last).to_have_text("Your email?")
    page.fill("#flow-tester-input", "ana@example.com")
    page.press("#flow-tester-input", "Enter")
    expect(transcript.last).to_have_text("Thanks, we will write to ana@example.com.")
    expect(page.locator("#flow-tester")).to_have_attribute("data-ended-by", "end")
    screenshot(page, "flow-editor")

    page.locator("#flow-publish").click()
    expect(page.locator("#flow-live-version")).to_contain_text("Live: version 1")

    chat = urlencode({"inbox": team.inbox.pk, "phone": new_phone(), "name": "Carla Cliente"})
    page.goto(f"/app/sandbox/?{chat}")
    bubbles = page.locator("#sandbox-thread .sandbox-message .bubble p:not(.meta)")
    # The thread shows line breaks as <br>: "How can we help?1. Sales2. Support" in the text.
    for said, answer in (("Hi", re.compile(r"^How can we help\?\s*1\. Sales\s*2\. Support$")),
                         ("sales", "Your email?"),
                         ("carla@example.com", "Thanks, we will write to carla@example.com.")):
        page.fill("#id_text", said)
        page.press("#id_text", "Enter")
        expect(bubbles.last).to_have_text(answer, timeout=10000)
    screenshot(page, "flow-sandbox")
    assert problems == []
