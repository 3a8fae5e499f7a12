"""The agents' UI and the console under their Content-Security-Policy, in Debian's Chromium.

Chromium reports each thing the policy blocks (an inline script or handler, an eval, an inline
style) as a console error and a `securitypolicyviolation` event; the main flows must work and
record none. The websocket authenticates with its first frame: its URL carries no token.
"""

import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import DESKTOP, off_loop
from tests.fixtures.factories import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

SOON = 2000  # ms

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`
                + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def watched_context(browser, base_url: str):
    """A browser context whose pages report every policy violation and error into the returned lists."""
    context = browser.new_context(base_url=base_url, viewport=DESKTOP)
    context.set_default_timeout(5000)
    # The live server's first page can be slow on a busy machine (see tests/fixtures/browser.sign_in).
    context.set_default_navigation_timeout(15000)
    context.add_init_script(REPORT_VIOLATIONS)
    problems: list[str] = []
    sockets: list[str] = []

    def on_console(message):
        where = message.location["url"]
        if where.endswith("/favicon.ico"):  # the browser's own guess, no page asks for it
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"{message.text} ({where})")

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.append(str(error.error)))
    context.on("page", lambda page: page.on("websocket", lambda ws: sockets.append(ws.url)))
    return context, problems, sockets


def test_the_inbox_works_under_its_policy_without_a_single_violation(chromium, team):
    admin = team.add_user("ana", role="admin", name="Ana Admin")
    context, problems, sockets = watched_context(chromium, team.origin)
    page = context.new_page()
    response = page.goto("/app/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_email", admin.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/")
    page.goto("/app/?tab=unassigned")
    # live frames arrive over a socket that signed in with its first frame, not its URL
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    team.customer_says("Preciso de ajuda com a fatura")
    row = page.locator(".conversation-row", has_text="Carla Cliente")
    expect(row).to_be_visible(timeout=SOON)
    assert problems == []
    assert sockets and all("token" not in url for url in sockets), sockets

    # htmx swaps, the composer (its reset after a send used to be an hx-on attribute), notifications
    row.locator("a").click()
    composer = page.locator("#composer-text")
    composer.fill("Claro, já vejo isso")
    composer.press("Enter")
    expect(page.locator("#timeline li.message.outbound", has_text="Claro, já vejo isso")).to_be_visible(
        timeout=SOON)
    expect(composer).to_have_value("")
    page.locator("[data-toggle=notifications-panel]").click()
    expect(page.locator("#notifications-panel")).to_be_visible()

    for path in ("/app/settings/branding/", "/app/settings/users/", "/app/sandbox/", "/app/profile/"):
        assert page.goto(path).ok, path
    expect(page.locator(".brand-swatch")).to_have_count(0)  # the sandbox page: no swatch, just loaded
    page.goto("/app/settings/branding/")
    swatch = page.locator(".brand-swatch")
    colour = swatch.evaluate("element => getComputedStyle(element).backgroundColor")
    assert colour not in ("", "rgba(0, 0, 0, 0)"), colour  # the brand colour still reaches it

    assert problems == []
    context.close()


def new_superadmin() -> str:
    from django_tenants.utils import schema_context

    from apps.accounts.models import User

    with schema_context("public"):
        return User.objects.create_superuser(f"operator-{uuid.uuid4().hex[:8]}@example.com", PASSWORD).email


def test_the_console_works_under_its_policy_without_a_single_violation(chromium, team, asgi_server):
    email = off_loop(new_superadmin)
    context, problems, _ = watched_context(chromium, f"http://localhost:{asgi_server.port}")
    page = context.new_page()
    response = page.goto("/console/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")

    page.goto(f"/console/?q={team.company.slug}")
    page.locator(f'tr[data-slug="{team.company.slug}"] a').click()
    expect(page.locator("svg.bar-chart rect")).to_have_count(24)
    preview = page.locator(".login-preview-frame")
    # the preview's brand colour comes from a nonce'd <style>, no longer a style attribute
    assert preview.evaluate("element => getComputedStyle(element).getPropertyValue('--brand').trim()")
    for path in ("/console/plans/", "/console/audit/", "/console/security/"):
        assert page.goto(path).ok, path

    assert problems == []
    context.close()
