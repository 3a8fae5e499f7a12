"""Two-factor sign-in in a real browser: an agent turns it on with the QR page's key, saves the
backup codes shown once, signs in with a code as the second step, then with a backup code (once)."""

import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import DESKTOP, screenshot, sign_in
from tests.fixtures.factories import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]


def _password_step(chromium, team, user):
    context = chromium.new_context(base_url=team.origin, viewport=DESKTOP)
    context.set_default_timeout(5000)
    context.set_default_navigation_timeout(15000)  # a cold live server's first page, busy machine
    page = context.new_page()
    page.goto("/app/login/")
    page.fill("#id_email", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_label("Code")).to_be_visible()  # the second step, not the inbox
    return page


def test_an_agent_turns_on_two_factor_and_signs_in_with_a_code_then_a_backup_code(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")

    page = sign_in(chromium, team, ana, path="/app/profile/")
    page.get_by_role("link", name="Security: two-factor sign-in and devices").click()
    expect(page.locator("#two-factor-state")).to_contain_text("Off")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text()
    screenshot(page, "two-factor-setup")
    page.fill("#id_code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("#backup-codes li code")
    expect(codes).to_have_count(10)
    backup = codes.nth(0).inner_text()
    screenshot(page, "two-factor-backup-codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page).to_have_url(f"{team.origin}/app/")

    # The password alone leads to the code step; the next code signs in.
    second = _password_step(chromium, team, ana)
    second.fill("#id_otp", pyotp.TOTP(secret).at(time.time() + 30))
    second.get_by_role("button", name="Verify").click()
    second.wait_for_url("**/app/")
    expect(second.locator("#connection")).to_have_attribute("data-state", "connected")

    # A backup code works once.
    lost_phone = _password_step(chromium, team, ana)
    lost_phone.fill("#id_otp", backup)
    lost_phone.get_by_role("button", name="Verify").click()
    lost_phone.wait_for_url("**/app/")
    again = _password_step(chromium, team, ana)
    again.fill("#id_otp", backup)
    again.get_by_role("button", name="Verify").click()
    expect(again.get_by_role("alert")).to_have_text("That code is not right. Try the current one.")
