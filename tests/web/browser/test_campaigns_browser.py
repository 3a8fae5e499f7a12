"""Campaigns in a real browser (issue 13): an admin builds a campaign (the audience count and the
preview follow the fields), schedules it, starts it, watches the counts move live from
`campaign.progress` frames while the real worker sends through the sandbox inbox, pauses and
resumes it, and reads the report."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import off_loop, screenshot, sign_in
from tests.fixtures.contacts import make_contact

pytestmark = [pytest.mark.live, pytest.mark.browser]

RECIPIENTS = 10


def test_an_admin_builds_schedules_starts_pauses_resumes_and_reads_the_report(chromium, team):
    alice = team.add_user("alice", role="admin", name="Alice Admin")
    for n in range(RECIPIENTS):
        off_loop(make_contact, team.company, name=f"Cliente {n} Silva", tags=["vip"])
    off_loop(make_contact, team.company, name="Não Quer", tags=["vip"], opted_out=True)

    page = sign_in(chromium, team, alice, path="/app/campaigns/")
    problems = []  # script errors and CSP violations (no inline script or handler on these pages)
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    expect(page.locator("#campaigns-empty")).to_be_visible()
    page.locator("#campaign-new").click()
    page.fill("#id_name", "Black Friday")
    page.fill("#id_tags", "vip")
    count = page.locator("#audience-count")
    expect(count.locator('[data-field="audience-total"]')).to_have_text(str(RECIPIENTS + 1))
    expect(count.locator('[data-field="audience-skipped"]')).to_have_text("1")
    expect(page.locator("#rate-cap")).to_contain_text("80")
    page.fill("#id_text", "Oi ")
    page.locator('[data-insert-variable="contact.first_name"]').click()
    expect(page.locator("#id_text")).to_have_value("Oi {{contact.first_name}}")
    page.select_option("#preview-contact", label=f"Cliente {RECIPIENTS - 1} Silva")
    expect(page.locator('[data-field="preview-text"]')).to_have_text("Oi Cliente")
    page.fill("#id_rate_per_second", "2")
    screenshot(page, "campaign-builder")
    page.locator("#campaign-save").click()

    expect(page).to_have_url(re.compile(r".*/app/campaigns/\d+/$"))
    status = page.locator('#campaign-live [data-field="status_label"]')
    expect(status).to_have_text("Draft")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#schedule-at", tomorrow)
    page.locator("#campaign-schedule").click()
    expect(status).to_have_text("Scheduled")
    expect(page.locator("#campaign-live")).to_contain_text("Scheduled for")

    page.locator("#campaign-start").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    sent = page.locator('#campaign-live [data-field="sent"]')
    # The counts move without a reload: frames while the worker sends at 2 a second.
    expect(sent).to_have_text(re.compile(r"^[1-9]$"), timeout=10000)
    page.locator("#campaign-pause").click()
    expect(status).to_have_text("Paused")
    expect(page.locator("#campaign-resume")).to_be_visible()
    held = int(sent.inner_text())
    assert held < RECIPIENTS
    page.wait_for_timeout(1500)
    page.reload()
    assert int(page.locator('#campaign-live [data-field="sent"]').inner_text()) <= held + 1

    page.locator("#campaign-resume").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(sent).to_have_text(str(RECIPIENTS), timeout=15000)
    expect(status).to_have_text("Completed", timeout=10000)
    report = page.locator("#campaign-report")
    expect(report).to_be_visible()
    expect(page.locator('#campaign-live [data-field="skipped"]')).to_have_text("1")
    expect(page.locator("#report-no-failures")).to_be_visible()
    expect(page.locator("#campaign-chart rect.bar").first).to_be_attached()
    expect(page.locator("#recipients-table .recipient-row")).to_have_count(RECIPIENTS + 1)
    screenshot(page, "campaign-report")
    with page.expect_download() as download_info:
        page.locator("#campaign-report-csv").click()
    content = open(download_info.value.path(), encoding="utf-8").read()
    assert content.count(",opted_out,") == 1 and "count,sent,10" in content
    assert problems == []
