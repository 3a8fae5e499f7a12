"""The Reports page in a real browser (issue 16): an admin sees the week's figures, and the live
dashboard moves without a reload when a customer writes (the worker's drain → rollups →
coalesced `report.live` frame)."""

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_the_reports_page_shows_the_figures_and_the_live_dashboard_follows_a_new_message(chromium, team):
    alice = team.add_user("alice", role="admin", name="Alice Admin")
    team.customer_says("Bom dia! Vocês abrem hoje?", name="Carla Cliente")

    page = sign_in(chromium, team, alice, path="/app/reports/")
    problems = []  # script errors and CSP violations
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    expect(page.locator('#report-summary [data-field="opened"]')).to_have_text("1")
    expect(page.locator('#report-summary [data-field="messages"]')).to_have_text("1 / 0")
    expect(page.locator('#report-live [data-live="messages-in"]')).to_have_text("1")
    expect(page.locator("#report-charts svg rect.bar").first).to_be_attached()
    expect(page.locator('[data-download="summary.pdf"]')).to_be_visible()

    team.customer_says("Quero saber do meu pedido", name="Davi Cliente")

    # No reload: the frame rewrites the numbers.
    expect(page.locator('#report-live [data-live="messages-in"]')).to_have_text("2", timeout=8000)
    expect(page.locator('#report-live [data-live="opened"]')).to_have_text("2")
    expect(page.locator('#report-summary [data-field="opened"]')).to_have_text("1")
    expect(page.locator("#report-live")).to_have_attribute("data-updated-at", re.compile(r"^\d{4}-"))
    screenshot(page, "reports")
    with page.expect_download() as download_info:
        page.locator('[data-download="summary.xlsx"]').first.click()
    assert download_info.value.suggested_filename.startswith("summary-")
    assert problems == []
