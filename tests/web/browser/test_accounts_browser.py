"""Account email flows in a real browser, with the mail a real SMTP server received: an invitation
accepted from its email's link, a password reset from its email, a password change; and the branded
email itself rendered in Chromium in the three languages (screenshots in tests/artifacts/)."""

import uuid

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from tests.fixtures import live
from tests.fixtures.browser import ARTIFACTS, make_team, off_loop, screenshot, sign_in
from tests.fixtures.factories import PASSWORD, unique_email
from tests.fixtures.smtp import smtp_env, start_smtp

pytestmark = [pytest.mark.live, pytest.mark.browser]

NEW_PASSWORD = "browser-chosen-passphrase"


@pytest.fixture(scope="module")
def mail_stack(django_db_setup, companies, tmp_path_factory):
    """An SMTP server, and a web server and worker of their own (own Huey queue) that send to it:
    the package's worker has no SMTP settings."""
    smtp, controller = start_smtp()
    env = {**smtp_env(smtp), "HUEY_NAME": f"conversa-mail-{uuid.uuid4().hex[:8]}"}
    logs = tmp_path_factory.mktemp("mail-logs")
    server = live.start_server(logs / "uvicorn.log", **env)
    worker = live.start_worker(logs / "worker.log", workers=2, **env)
    yield smtp, server
    live.stop(worker)
    live.stop(server.process)
    controller.stop()


def _invite(company, email: str) -> None:
    from apps.accounts.invitations import invitation_create
    from apps.accounts.models import User

    with schema_context(company.schema_name):
        admin = User.objects.get(role="admin", email=f"admin@{company.slug}.example.com")
        invitation_create(actor=admin, email=email, role="agent")


def test_an_invitation_is_accepted_from_the_emailed_link(chromium, mail_stack, make_live_company):
    smtp, server = mail_stack
    team = make_team(server, make_live_company)
    admin = type("Admin", (), {"email": f"admin@{team.company.slug}.example.com"})()
    email = unique_email("invited")

    page = sign_in(chromium, team, admin, path="/app/settings/users/")
    page.get_by_role("link", name="Invite").click()
    page.fill("#id_email", email)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".flash.ok")).to_contain_text(email)
    expect(page.locator("#pending-invitations")).to_contain_text(email)

    link = smtp.wait_for(email)[0].link("/app/invite/")
    assert link.startswith(team.origin)
    context = chromium.new_context()
    invited = context.new_page()
    invited.goto(link)
    expect(invited.locator(".brand-name")).to_have_text(team.company.name)
    invited.fill("#id_name", "Nina Nova")
    invited.fill("#id_password", NEW_PASSWORD)
    invited.get_by_role("button", name="Join").click()
    invited.wait_for_url("**/app/")
    screenshot(invited, "invitation-accepted")
    invited.goto(link)  # used up
    expect(invited.locator(".flash.error")).to_be_visible()
    context.close()


def test_a_password_is_reset_from_the_emailed_link_and_changed_on_the_profile(
    chromium, mail_stack, make_live_company,
):
    smtp, server = mail_stack
    team = make_team(server, make_live_company)
    user = off_loop(team.add_user, "rita", name="Rita Reset")

    context = chromium.new_context(base_url=team.origin)
    page = context.new_page()
    page.goto("/app/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.fill("#id_email", user.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-sent")).to_be_visible()

    link = smtp.wait_for(user.email)[0].link("/app/password/reset/")
    page.goto(link)
    page.fill("#id_new_password", NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator("#reset-done")).to_be_visible()
    page.fill("#id_email", user.email)
    page.fill("#id_password", NEW_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/")

    page.goto("/app/profile/")
    page.get_by_role("link", name="Change password").click()
    page.fill("#id_current_password", NEW_PASSWORD)
    page.fill("#id_new_password", PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-saved")).to_be_visible()
    page.goto("/app/")  # still signed in here
    page.wait_for_url("**/app/")
    context.close()


def _render_white_label(language: str) -> tuple[str, str]:
    from apps.mail.rendering import render_email
    from tenants.models import Company, Plan

    with schema_context("public"):
        company = Company.objects.select_related("plan").get(slug="alpha")
        company.brand_name, company.primary_color = "Acme Atende", "#b91c1c"
        company.plan = Plan(code="wl", name="WL", white_label=True)
        rendered = render_email("invitation", {
            "inviter": "Ana Admin", "url": "https://alpha.example.com/app/invite/x/",
            "expires_at": company.created_at,
        }, company=company, base_url="https://alpha.example.com", language=language)
    return rendered.html, rendered.text


@pytest.mark.parametrize("language", ["en", "es", "pt-br"])
def test_a_white_label_email_shows_the_brand_in_every_language(chromium, live_db, language):
    html, text = off_loop(_render_white_label, language)
    assert "Acme Atende" in html and "#b91c1c" in html and "Conversa" not in html + text
    context = chromium.new_context(viewport={"width": 640, "height": 700})
    page = context.new_page()
    page.set_content(html)
    expect(page.locator(".brand-name")).to_have_text("Acme Atende")
    bar = page.locator(".brand-bar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert bar == "rgb(185, 28, 28)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"email-invitation-{language}.png"), full_page=True)
    context.close()
