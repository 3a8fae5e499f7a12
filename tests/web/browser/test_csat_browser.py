"""The customer's rating page in a real browser (issue 16, CSAT): closing a conversation sends the
link through the sandbox, the customer rates 4 with a comment on the company's branded page
(no JavaScript needed), and the agent sees the rating and comment in the conversation panel."""

import re

import pytest
from playwright.sync_api import expect

from apps.inboxes.services import inbox_update
from tests.fixtures.browser import DESKTOP, off_loop, screenshot, sign_in
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_a_customer_rates_on_the_link_page_and_the_agent_sees_it(team, chromium):
    from django_tenants.utils import schema_context

    def enable_csat():
        with schema_context(team.company.schema_name):
            inbox_update(actor=None, inbox=team.inbox, csat_enabled=True, csat_mode="link")

    off_loop(enable_csat)
    team.customer_says("My parcel never came")
    found = {}
    assert eventually(lambda: found.update(items=team.api("GET", "/conversations").json()["items"])
                      or found["items"])
    conversation = found["items"][0]
    assert team.api("POST", f"/conversations/{conversation['id']}/close", json={}).status_code == 200

    def link():
        outbox = team.api("GET", f"/inboxes/{team.inbox.pk}/sandbox/outbox").json()["items"]
        found = [re.search(r"(/csat/\S+)$", item["text"]) for item in outbox]
        return next((match.group(1) for match in found if match), None)

    assert eventually(lambda: found.update(path=link()) or found["path"])
    path = found["path"]
    customer = chromium.new_context(base_url=team.origin, viewport=DESKTOP, java_script_enabled=False)
    customer.set_default_timeout(5000)
    customer.set_default_navigation_timeout(15000)  # a cold live server's first page, busy machine
    page = customer.new_page()
    page.goto(path)
    expect(page.locator("h1.brand-name")).to_have_text(team.company.brand_name or team.company.name)
    page.locator("label.csat-rating", has_text="4").click()
    page.fill("#csat-comment", "Friendly, but slow")
    page.click("button[type=submit]")
    expect(page.locator("#csat-thanks")).to_be_visible()
    screenshot(page, "csat-rated")
    customer.close()

    admin = off_loop(team.add_user, "admin", role="admin")
    panel = sign_in(chromium, team, admin, path=f"/app/c/{conversation['id']}/")
    expect(panel.locator("#csat-badge")).to_have_text("Rating 4/5")
    expect(panel.locator("#csat-comment")).to_have_text("Friendly, but slow")
    panel.context.close()
