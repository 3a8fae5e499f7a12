"""Automation in a real browser: an admin writes a rule in Settings → Automation, a customer's
sandbox message sets it off in the worker and the conversation shows what the rule did; then the
admin @mentions a colleague in a note, picked from the composer's list, and that colleague is
notified."""

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import off_loop, screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

SOON = 5000  # ms: the worker's task and a frame through the live server, on a busy 2-core machine


def _mentions_of(team, user) -> list[str]:
    from django_tenants.utils import schema_context

    from apps.notifications.models import Notification

    with schema_context(team.company.schema_name):
        return list(Notification.objects.filter(user=user, kind="mention").values_list("body", flat=True))


def test_a_rule_written_in_settings_acts_on_a_sandbox_message_and_a_mention_notifies(chromium, team):
    admin = team.add_user("alice", role="admin", name="Alice Admin")
    bruno = team.add_user("bruno", role="supervisor", name="Bruno Barros")
    # The live server's first page (templates compiled, UI modules imported) can take longer than
    # the browser's 5 s on a loaded machine; the test is about what follows.
    with team.server.client(team.host) as http:
        assert http.get("/app/login/", timeout=60).status_code == 200

    page = sign_in(chromium, team, admin, path="/app/settings/automation/")
    page.get_by_role("link", name="New rule").click()
    page.fill("#rule-name", "Urgentes")
    page.select_option("#rule-event", "message.created")
    page.select_option("#c-0-type", "text_contains")
    expect(page.locator("#c-0-inbox_ids")).to_be_hidden()  # only the chosen type's inputs show
    page.fill("#c-0-words", "urgente, urgent")
    page.select_option("#a-0-type", "add_label")
    page.fill("#a-0-label", "urgent")
    page.select_option("#a-1-type", "send_message")
    page.fill("#a-1-text", "Recebemos sua mensagem urgente.")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rules-table")).to_contain_text("Urgentes")

    team.customer_says("Preciso de ajuda, é URGENTE!", name="Diego Cliente")
    page.goto("/app/?tab=unassigned")
    # The row comes with the page or, if the worker drains the message after it, by websocket.
    row = page.locator(".conversation-row", has_text="Diego Cliente")
    expect(row).to_be_visible(timeout=SOON)
    row.locator("a").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Recebemos sua mensagem urgente.", timeout=SOON)
    expect(timeline).to_contain_text("Automation rule “Urgentes” acted: Add a label, Send a message",
                                      timeout=SOON)

    # An internal note mentioning Bruno, picked from the list the composer offers.
    page.locator("label", has_text="Internal note").click()
    composer = page.locator("#composer-text")
    composer.click()
    composer.press_sequentially("@bru")
    expect(page.locator("#mention-list li:not([hidden])")).to_have_text(["@Bruno Barros"])
    composer.press("Enter")
    expect(composer).to_have_value(f"@[Bruno Barros](user:{bruno.pk}) ")
    composer.press_sequentially("pode olhar?")
    composer.press("Enter")
    expect(timeline.locator(".note .mention")).to_have_text("@Bruno Barros", timeout=SOON)
    screenshot(page, "automation-rule-and-mention")
    assert off_loop(_mentions_of, team, bruno) == ["@Bruno Barros pode olhar?"]
