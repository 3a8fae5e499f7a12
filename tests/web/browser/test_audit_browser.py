"""The audit page in a real browser: an admin changes a colleague's role on Settings → Users, then
opens Settings → Audit log, filters by that action, reads the change from → to with where it came
from, and exports what the filters show."""

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

STARTED = "The export has started; it appears here when it is ready."


def test_an_admin_filters_the_audit_log_by_action_and_sees_the_change_from_to(chromium, team):
    ana = team.add_user("ana", role="admin", name="Ana Admin")
    bruno = team.add_user("bruno", name="Bruno Barros")

    page = sign_in(chromium, team, ana, path="/app/settings/users/")
    page.select_option(f"#role-{bruno.pk}", "supervisor")
    page.locator(f"#role-{bruno.pk}").locator("xpath=..").get_by_role("button", name="Change role").click()
    expect(page.locator(f"#role-{bruno.pk}")).to_have_value("supervisor")

    page.get_by_role("navigation", name="Settings sections").get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(f"{team.origin}/app/settings/audit/")
    page.select_option("#audit-action", "user.role_changed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/app/settings/audit/\?.*action=user\.role_changed"))
    rows = page.locator(".audit-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ana Admin")
    expect(rows.first).to_contain_text(f"user #{bruno.pk}")
    expect(rows.first.locator(".audit-changes li")).to_have_text("role: agent → supervisor")
    expect(rows.first).to_contain_text("127.0.0.1")
    expect(page.locator("#audit-action")).to_have_value("user.role_changed")
    screenshot(page, "audit-log")

    page.get_by_role("button", name="Export CSV").click()
    expect(page).to_have_url(f"{team.origin}/app/exports/")
    expect(page.locator(".flash.ok")).to_have_text(STARTED)
    expect(page.locator("main table")).to_contain_text("Audit log")
