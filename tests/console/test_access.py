"""Who may use the console (acceptance 5): super-admins on BASE_DOMAIN only, TOTP, throttling."""

import pyotp
import pytest
from django.test import Client

from conversa.crypto import decrypt_text
from tenants.models import PlatformAuditEntry, SuperAdminTotp
from tests.conftest import host_of
from tests.console.conftest import Console
from tests.fixtures.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

CONSOLE_PATHS = ["/console/", "/console/login/", "/console/plans/", "/console/audit/",
                 "/console/companies/new/", "/console/security/"]


def test_console_urls_are_404_on_a_tenant_host(alpha, superadmin):
    tenant = Client(HTTP_HOST=host_of(alpha))
    for path in CONSOLE_PATHS:
        assert tenant.get(path).status_code == 404, path
    refused = tenant.post("/console/login/", {"email": superadmin.email, "password": PASSWORD})
    assert refused.status_code == 404


def test_pages_need_a_signed_in_superadmin(console_client):
    for path in CONSOLE_PATHS[:1] + CONSOLE_PATHS[2:]:
        response = console_client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/"), path


def test_a_superadmin_signs_in_and_out_and_both_are_audited(console_client, superadmin):
    response = console_client.login(superadmin.email)
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert console_client.get("/console/").status_code == 200

    assert console_client.post("/console/logout/").status_code == 302
    assert console_client.get("/console/").status_code == 302
    actions = list(PlatformAuditEntry.objects.filter(actor_id=superadmin.pk).values_list("action", flat=True))
    assert actions == ["console.logout", "console.login"]


def test_a_tenant_users_credentials_are_refused(console_client, alpha):
    admin_email = f"admin@{alpha.slug}.example.com"
    user = make_user(alpha, role="admin")
    for email in (admin_email, user.email):
        response = console_client.login(email)
        assert response.status_code == 401
        assert b"Wrong email or password" in response.content
    assert console_client.get("/console/").status_code == 302
    assert PlatformAuditEntry.objects.filter(action="console.login_failed").count() == 2


def test_a_non_superuser_of_the_public_schema_is_refused(console_client):
    from apps.accounts.models import User

    User.objects.create_user("staff-only@example.com", PASSWORD)
    assert console_client.login("staff-only@example.com").status_code == 401


def test_a_superadmin_cannot_sign_in_on_a_tenant_host(alpha, superadmin):
    tenant = Client(HTTP_HOST=host_of(alpha))
    response = tenant.post("/app/login/", {"email": superadmin.email, "password": PASSWORD})
    assert response.status_code == 401
    api = Client(HTTP_HOST=host_of(alpha)).post(
        "/api/v1/auth/login", {"email": superadmin.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert api.status_code == 401


def test_console_logins_are_throttled_per_account(console_client, superadmin, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        assert console_client.login(superadmin.email, "wrong-password-1").status_code == 401
    # even the right password now waits for the window to pass
    assert console_client.login(superadmin.email).status_code == 429


def test_a_look_alike_email_does_not_reset_the_console_lock(console_client, settings):
    from apps.accounts.models import User

    admin = User.objects.create_superuser("mission-control@example.com", PASSWORD)
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        assert console_client.login(admin.email, "wrong-password-1").status_code == 401

    for twin in ("m\u0131ssion-control@example.com", "mi\u017f\u017fion-control@example.com"):
        assert console_client.login(twin).status_code == 429
    assert console_client.get("/console/").status_code == 302


def test_totp_enrolment_then_sign_in_needs_the_code(console, superadmin):
    page = console.post("/console/security/", {"step": "start"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    device = SuperAdminTotp.objects.get(user_id=superadmin.pk)
    secret = decrypt_text(device.secret)  # encrypted at rest
    assert secret != device.secret and secret in page.content.decode()
    assert "otpauth://totp/" in page.content.decode()
    totp = pyotp.TOTP(secret)

    assert console.post("/console/security/", {"step": "confirm", "otp": "000000"}).status_code == 422
    confirmed = console.post("/console/security/", {"step": "confirm", "otp": totp.now()})
    # the ten backup codes are shown on this answer only
    assert confirmed.status_code == 200 and confirmed.content.decode().count("<li><code>") == 10
    assert SuperAdminTotp.objects.get(user_id=superadmin.pk).confirmed_at is not None
    console.post("/console/logout/")

    fresh = Console()
    asks = fresh.login(superadmin.email)
    assert asks.status_code == 200 and b'name="otp"' in asks.content
    assert fresh.get("/console/").status_code == 302  # the password alone is not a session
    assert fresh.post("/console/login/", {"otp": "123456"}).status_code == 401
    # the code that confirmed enrolment was used in this time step: it cannot sign in again
    SuperAdminTotp.objects.filter(user_id=superadmin.pk).update(last_used_step=0)
    code = totp.now()
    assert fresh.post("/console/login/", {"otp": code}).status_code == 302
    assert fresh.get("/console/").status_code == 200
    other = Console()
    other.login(superadmin.email)
    assert other.post("/console/login/", {"otp": code}).status_code == 401  # no replay
    assert PlatformAuditEntry.objects.filter(action="console.totp_enabled").count() == 1


def test_the_platform_home_points_to_the_console(console_client):
    assert console_client.get("/").json()["console"] == "http://localhost/console/"
