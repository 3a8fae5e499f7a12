"""The security page and the login's second step through Django's test client."""

import time

import pyotp
import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import TwoFactorDevice
from conversa.crypto import decrypt_text
from tests.fixtures.factories import make_user
from tests.web.test_pages import Browser, signed_in

pytestmark = pytest.mark.django_db


def turn_on(company, browser, user) -> tuple[str, str]:
    """Set up two-factor on the security page; returns (secret, page after enabling)."""
    assert browser.post("/app/profile/security/", {"step": "start"}).status_code == 302
    page = browser.get("/app/profile/security/").content.decode()
    with schema_context(company.schema_name):
        secret = decrypt_text(TwoFactorDevice.objects.get(user=user).secret_encrypted)
    assert secret in page and 'src="data:image/svg+xml' in page
    enabled = browser.post("/app/profile/security/", {"step": "enable", "code": pyotp.TOTP(secret).now()})
    assert enabled.status_code == 200 and enabled["Cache-Control"] == "no-store"
    return secret, enabled.content.decode()


def test_the_security_page_turns_two_factor_on_and_shows_backup_codes_once(alpha):
    user = make_user(alpha)
    browser = signed_in(alpha, user)
    _, page = turn_on(alpha, browser, user)
    assert page.count("<li><code>") == 10
    assert "<li><code>" not in browser.get("/app/profile/security/").content.decode()


def test_signing_in_asks_for_the_code_as_a_second_step(alpha):
    user = make_user(alpha)
    secret, page = turn_on(alpha, signed_in(alpha, user), user)
    backup = page.split("<li><code>")[1].split("</code>")[0]

    fresh = Browser(alpha)
    asks = fresh.login(user)
    assert asks.status_code == 200 and b'name="otp"' in asks.content
    assert fresh.get("/app/").status_code == 302  # the password alone is no session
    assert fresh.post("/app/login/", {"step": "otp", "otp": "12345x"}).status_code == 401
    done = fresh.post("/app/login/", {"step": "otp", "otp": pyotp.TOTP(secret).at(time.time() + 30)})
    assert done.status_code == 302 and done["Location"] == "/app/"
    assert fresh.get("/app/").status_code == 200

    other = Browser(alpha)
    other.login(user)
    assert other.post("/app/login/", {"step": "otp", "otp": backup}).status_code == 302
    again = Browser(alpha)
    again.login(user)
    assert again.post("/app/login/", {"step": "otp", "otp": backup}).status_code == 401  # used up


def test_a_code_without_a_password_first_signs_nobody_in(alpha):
    browser = Browser(alpha)
    response = browser.post("/app/login/", {"step": "otp", "otp": "123456"})
    assert response.status_code == 302 and response["Location"] == "/app/login/"
    assert browser.get("/app/").status_code == 302


def test_an_admin_requires_two_factor_and_users_are_sent_to_set_it_up(alpha):
    admin = make_user(alpha, role="admin")
    agent = make_user(alpha)
    admin_browser = signed_in(alpha, admin)
    assert 'id="id_require_two_factor"' in admin_browser.get("/app/settings/branding/").content.decode()
    assert admin_browser.post("/app/settings/security/", {"require_two_factor": "on"}).status_code == 302
    # the admin has no second factor either: their next page is the set-up
    assert admin_browser.get("/app/")["Location"] == "/app/profile/security/"

    agent_browser = Browser(alpha)
    signed = agent_browser.login(agent)
    assert signed.status_code == 302 and signed["Location"] == "/app/profile/security/"
    assert agent_browser.get("/app/contacts/")["Location"] == "/app/profile/security/"
    page = agent_browser.get("/app/profile/security/").content.decode()
    assert 'id="two-factor-required"' in page
    # nothing else is reachable before the set-up, not even the (admins') requirement form
    assert agent_browser.post("/app/settings/security/", {})["Location"] == "/app/profile/security/"
    with schema_context("public"):
        alpha.refresh_from_db()
        assert alpha.require_two_factor is True


def test_only_admins_see_and_change_the_requirement(alpha):
    agent = make_user(alpha)
    browser = signed_in(alpha, agent)
    assert browser.post("/app/settings/security/", {"require_two_factor": "on"}).status_code == 404
    with schema_context("public"):
        alpha.refresh_from_db()
        assert alpha.require_two_factor is False


def test_the_security_page_lists_the_users_devices_and_signs_them_out(alpha, api):
    from tests.fixtures.factories import PASSWORD

    user, other = make_user(alpha), make_user(alpha)
    phone = api(alpha).post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
                            headers={"User-Agent": "Conversa-iOS/2.0"}).json()
    api(alpha).post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
                    headers={"User-Agent": "Zapier integration"})
    api(alpha).post("/api/v1/auth/login", {"email": other.email, "password": PASSWORD},
                    headers={"User-Agent": "Someone else's tablet"})
    browser = signed_in(alpha, user)

    page = browser.get("/app/profile/security/").content.decode()
    assert "Conversa-iOS/2.0" in page and "Zapier integration" in page
    assert "Someone else" not in page
    session_id = int(page.split('id="session-')[1].split('"')[0])  # newest use first: Zapier
    revoked = browser.post("/app/profile/security/", {"step": "revoke", "session": session_id})
    assert revoked.status_code == 302
    page = browser.get("/app/profile/security/").content.decode()
    assert "Zapier integration" not in page and "Conversa-iOS/2.0" in page

    browser.post("/app/profile/security/", {"step": "revoke_all"})
    assert 'id="no-sessions"' in browser.get("/app/profile/security/").content.decode()
    assert api(alpha, token=phone["access"]).get("/api/v1/auth/me").status_code == 401
    # another user's device id changes nothing and says so
    assert browser.post("/app/profile/security/", {"step": "revoke", "session": 10**9}).status_code == 404
