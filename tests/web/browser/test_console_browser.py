"""The super-admin console in a real browser (issue 6, acceptance 1): Debian's Chromium, the live server.

A super-admin creates company "acme" in the console, reads the one-time password the console shows
once, and acme's admin signs in at acme.localhost with it within 2 s.
"""

import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import DESKTOP, off_loop, screenshot
from tests.fixtures.factories import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

WITHIN = 2.0  # s: from the password shown to acme's admin signed in


def new_superadmin() -> str:
    from django_tenants.utils import schema_context

    from apps.accounts.models import User

    with schema_context("public"):
        return User.objects.create_superuser(f"operator-{uuid.uuid4().hex[:8]}@example.com", PASSWORD).email


def free_acme_slug() -> str:
    from tenants.models import Company

    # "acme" as the issue says, unless an earlier run in this database already took it.
    return "acme" if not Company.objects.filter(slug="acme").exists() else f"acme-{uuid.uuid4().hex[:6]}"


def test_a_company_created_in_the_console_signs_its_admin_in_within_2_s(chromium, asgi_server, live_db):
    email = off_loop(new_superadmin)
    slug = off_loop(free_acme_slug)
    console = chromium.new_context(base_url=f"http://localhost:{asgi_server.port}", viewport=DESKTOP)
    console.set_default_timeout(10000)
    page = console.new_page()
    page.goto("/console/")
    page.wait_for_url("**/console/login/**")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")

    page.get_by_role("link", name="Create company").click()
    page.fill("#id_name", "Acme")
    page.fill("#id_slug", slug)
    page.select_option("#id_plan", "pro")
    page.fill("#id_admin_email", f"boss@{slug}.example.com")
    started = time.monotonic()
    with page.expect_response(lambda response: "/created/" in response.url) as created:
        page.get_by_role("button", name="Create company").click()
    assert created.value.headers["cache-control"] == "no-store"
    password = page.locator("#one-time-password").inner_text()
    shown = time.monotonic()
    login_url = page.locator("#login-url").get_attribute("href")
    assert login_url == f"http://{slug}.localhost:{asgi_server.port}/app/login/"
    screenshot(page, "console-created")

    admin = chromium.new_context(viewport=DESKTOP)
    tab = admin.new_page()
    tab.goto(login_url)
    tab.fill("#id_email", f"boss@{slug}.example.com")
    tab.fill("#id_password", password)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"http://{slug}.localhost:{asgi_server.port}/app/")
    expect(tab.locator("body")).to_contain_text("Acme")
    signed_in = time.monotonic()
    assert signed_in - shown < WITHIN, (
        f"created in {shown - started:.2f} s, signed in {signed_in - shown:.2f} s after the password showed"
    )

    # shown once: reloading the page no longer shows it
    page.reload()
    expect(page.locator("#one-time-password")).to_have_count(0)
    page.goto("/console/?q=" + slug)
    expect(page.locator(f'tr[data-slug="{slug}"]')).to_contain_text("Pro")
    screenshot(page, "console-companies")
    page.locator(f'tr[data-slug="{slug}"] a').click()
    expect(page.locator("svg.bar-chart rect")).to_have_count(24)  # two charts of 12 months
    screenshot(page, "console-company")
    page.goto("/console/audit/")
    expect(page.locator("tr[data-action='company.created']").first).to_contain_text(slug)
    admin.close()
    console.close()
