"""Outbound webhooks in a real browser (issue 16): an admin adds a webhook on Settings → Webhooks, sees
its secret once, sends a test event that appears in the delivery log, and a contact created through
the API reaches the receiver from the live worker, signed with that secret."""

import time

import pytest
from playwright.sync_api import expect

from tests.fakes.webhook_receiver import WebhookReceiver
from tests.fixtures.browser import screenshot, sign_in
from tests.webhooks.verify_snippet import verify

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_an_admin_adds_a_webhook_sees_its_secret_once_and_tests_it(chromium, team):
    admin = type("Admin", (), {"email": f"admin@{team.company.slug}.example.com"})()
    with WebhookReceiver() as receiver:
        page = sign_in(chromium, team, admin, path="/app/settings/")
        page.get_by_role("navigation", name="Settings sections").get_by_role("link", name="Webhooks").click()
        page.fill("#id_url", receiver.url)
        page.get_by_label("contact.created").check()
        page.get_by_role("button", name="Create webhook").click()

        secret = page.locator("#webhook-secret").input_value()
        assert secret.startswith("whsec_")
        page.get_by_role("link", name="Done, open the webhook").click()
        expect(page.get_by_role("heading", name=receiver.url)).to_be_visible()
        assert secret not in page.content()

        page.get_by_role("button", name="Send test event").click()
        expect(page.locator(".flash.ok")).to_have_text("Test event delivered (HTTP 200).")
        row = page.locator("#webhook-deliveries tbody tr").first
        expect(row).to_contain_text("webhook.test")
        expect(row).to_have_attribute("data-status", "succeeded")
        row.get_by_text("Request and answer").click()
        expect(row.locator("pre.excerpt").first).to_contain_text("X-Conversa-Signature: t=")
        screenshot(page, "webhook-settings")

        created = team.api("POST", "/contacts", json={"phone": "+5511987650001", "name": "Wanda Webhook"})
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 10
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    test_event, contact_event = receiver.received
    assert test_event.json["event"] == "webhook.test"
    assert (contact_event.json["event"], contact_event.json["data"]["name"]) == ("contact.created",
                                                                                 "Wanda Webhook")
    for request in receiver.received:
        assert verify(secret, request.body, request.headers["x-conversa-signature"])
