"""Two-factor sign-in for company users: set-up, login with a code or a backup code, throttling,
the company-wide requirement, and the console's secrets encrypted at rest."""

import time

import pyotp
import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import BackupCode, TwoFactorDevice
from conversa.crypto import decrypt_text
from tests.fixtures.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def next_step_code(secret: str) -> str:
    """A code of the next 30 s step: accepted (±1 step of drift) and later than the one just used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def enable_two_factor(api, company, user) -> tuple[str, list[str]]:
    """Turn two-factor on for `user` through the API; returns (secret, backup codes)."""
    token = api(company).login(user.email)["access"]
    client = api(company, token=token)
    setup = client.post("/api/v1/auth/2fa/setup")
    assert setup.status_code == 200, setup.content
    secret = setup.json()["secret"]
    enabled = client.post("/api/v1/auth/2fa/enable", {"code": pyotp.TOTP(secret).now()})
    assert enabled.status_code == 200, enabled.content
    return secret, enabled.json()["backup_codes"]


def login(api, company, email, **extra):
    return api(company).post("/api/v1/auth/login", {"email": email, "password": PASSWORD, **extra})


def test_setup_gives_a_secret_and_an_otpauth_url_and_changes_nothing_until_confirmed(api, alpha):
    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])

    body = client.post("/api/v1/auth/2fa/setup").json()

    assert body["otpauth_url"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_url"]
    assert login(api, alpha, user.email).status_code == 200  # not confirmed: password alone still works
    with schema_context(alpha.schema_name):
        stored = TwoFactorDevice.objects.get(user=user).secret_encrypted
    assert body["secret"] not in stored and decrypt_text(stored) == body["secret"]


def test_login_without_otp_is_refused_with_otp_required_and_a_code_lets_in(api, alpha):
    user = make_user(alpha)
    secret, _ = enable_two_factor(api, alpha, user)

    missing = login(api, alpha, user.email)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "otp_required"

    wrong = login(api, alpha, user.email, otp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "otp_invalid"

    right = login(api, alpha, user.email, otp=next_step_code(secret))
    assert right.status_code == 200
    assert right.json()["user"]["id"] == user.pk


def test_a_wrong_password_with_otp_says_invalid_credentials_not_otp(api, alpha):
    user = make_user(alpha)
    secret, _ = enable_two_factor(api, alpha, user)
    response = api(alpha).post("/api/v1/auth/login", {"email": user.email, "password": "wrong-pass-1",
                                                      "otp": pyotp.TOTP(secret).now()})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_a_totp_code_is_accepted_once(api, alpha):
    user = make_user(alpha)
    secret, _ = enable_two_factor(api, alpha, user)
    code = next_step_code(secret)

    assert login(api, alpha, user.email, otp=code).status_code == 200
    replay = login(api, alpha, user.email, otp=code)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "otp_invalid"


def test_ten_backup_codes_are_stored_hashed_and_each_works_once(api, alpha):
    user = make_user(alpha)
    _, codes = enable_two_factor(api, alpha, user)

    assert len(codes) == 10 and len(set(codes)) == 10
    with schema_context(alpha.schema_name):
        hashes = set(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(hashes) == 10 and not hashes & set(codes)

    assert login(api, alpha, user.email, otp=codes[3]).status_code == 200
    again = login(api, alpha, user.email, otp=codes[3])
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "otp_invalid"
    # typed in capitals without the dash, another code still works
    assert login(api, alpha, user.email, otp=codes[4].replace("-", "").upper()).status_code == 200


def test_guessing_codes_is_throttled_per_account(api, alpha, settings):
    settings.OTP_FAILURES_PER_ACCOUNT = 3
    user = make_user(alpha)
    secret, _ = enable_two_factor(api, alpha, user)
    current = {pyotp.TOTP(secret).at(time.time() + drift) for drift in (-30, 0, 30, 60)}
    guesses = [code for code in ("123456", "234567", "345678", "456789", "567890") if code not in current]

    statuses = [login(api, alpha, user.email, otp=guess).status_code for guess in guesses[:3]]
    assert statuses == [401, 401, 401]

    locked = login(api, alpha, user.email, otp=next_step_code(secret))
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert 0 < int(locked["Retry-After"]) <= settings.OTP_FAILURE_WINDOW_SECONDS


def test_disable_needs_the_password_and_a_code(api, alpha):
    user = make_user(alpha)
    secret, codes = enable_two_factor(api, alpha, user)
    token = login(api, alpha, user.email, otp=codes[0]).json()["access"]
    client = api(alpha, token=token)

    wrong = client.post("/api/v1/auth/2fa/disable", {"password": "not-my-pass", "code": codes[1]})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"][0]["field"] == "password"

    done = client.post("/api/v1/auth/2fa/disable", {"password": PASSWORD, "code": next_step_code(secret)})
    assert done.status_code == 204
    assert login(api, alpha, user.email).status_code == 200
    with schema_context(alpha.schema_name):
        assert not BackupCode.objects.filter(user=user).exists()


def test_enable_with_a_wrong_code_is_a_validation_error(api, alpha):
    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])
    secret = client.post("/api/v1/auth/2fa/setup").json()["secret"]
    current = {pyotp.TOTP(secret).at(time.time() + drift) for drift in (-30, 0, 30)}
    wrong = next(code for code in ("111111", "222222", "333333", "444444") if code not in current)

    response = client.post("/api/v1/auth/2fa/enable", {"code": wrong})

    assert response.status_code == 422
    assert client.get("/api/v1/auth/2fa").json()["enabled"] is False


def test_a_company_requirement_sends_users_without_two_factor_to_the_setup(api, alpha):
    from apps.accounts.models import User
    from apps.accounts.two_factor import company_set_require_two_factor

    user = make_user(alpha)
    with schema_context(alpha.schema_name):
        admin = User.objects.get(email=f"admin@{alpha.slug}.example.com")
        company_set_require_two_factor(actor=admin, enabled=True)

    body = api(alpha).login(user.email)
    assert body["two_factor_setup_required"] is True
    client = api(alpha, token=body["access"])
    blocked = client.get("/api/v1/conversations")
    assert blocked.status_code == 403
    assert blocked.json()["error"]["code"] == "two_factor_setup_required"
    assert client.get("/api/v1/auth/me").status_code == 200

    secret = client.post("/api/v1/auth/2fa/setup").json()["secret"]
    assert client.post("/api/v1/auth/2fa/enable", {"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert client.get("/api/v1/conversations").status_code == 200
    # and it cannot be turned off while the company requires it
    refused = client.post("/api/v1/auth/2fa/disable", {"password": PASSWORD, "code": next_step_code(secret)})
    assert refused.status_code == 403


def test_only_admins_require_two_factor_for_the_company(alpha):
    from apps.accounts.two_factor import company_set_require_two_factor
    from conversa.errors import Forbidden

    agent = make_user(alpha)
    with schema_context(alpha.schema_name), pytest.raises(Forbidden):
        company_set_require_two_factor(actor=agent, enabled=True)


def test_two_factor_of_company_a_means_nothing_on_b(api, alpha, bravo):
    """Same email in both companies: A's second factor neither guards nor opens B's account."""
    from tests.fixtures.factories import unique_email

    email = unique_email("twin")
    user_a, _ = make_user(alpha, email=email), make_user(bravo, email=email)
    secret, codes = enable_two_factor(api, alpha, user_a)

    assert login(api, bravo, email).status_code == 200  # B's account has no second factor
    b_token = login(api, bravo, email).json()["access"]
    # A's backup code is unknown on B, and B's state says off
    assert api(bravo, token=b_token).get("/api/v1/auth/2fa").json()["enabled"] is False
    assert api(bravo, token=b_token).post(
        "/api/v1/auth/2fa/disable", {"password": PASSWORD, "code": codes[0]},
    ).status_code == 409
    assert login(api, alpha, email, otp=codes[0]).status_code == 200  # still unused on A
    # A's access token opens nothing on B's 2FA endpoints
    a_token = login(api, alpha, email, otp=codes[1]).json()["access"]
    assert api(bravo, token=a_token).post("/api/v1/auth/2fa/setup").status_code == 401


def test_console_secrets_are_encrypted_and_backup_codes_work_once(superadmin):
    from tenants import superadmin_totp as totp
    from tenants.models import SuperAdminTotp

    with schema_context("public"):
        device = totp.totp_enrol_start(user=superadmin)
        secret = totp.secret_of(device)
        assert SuperAdminTotp.objects.get(pk=device.pk).secret != secret
        assert totp.totp_check(user_id=superadmin.pk, code=pyotp.TOTP(secret).now(), confirming=True)
        codes = totp.backup_codes_issue(user=superadmin)
        assert totp.totp_check(user_id=superadmin.pk, code=codes[0])
        assert not totp.totp_check(user_id=superadmin.pk, code=codes[0])


def test_the_migration_encrypts_console_secrets_stored_in_the_clear(superadmin):
    import importlib

    from django.apps import apps as global_apps

    from tenants.models import SuperAdminTotp

    migration = importlib.import_module("tenants.migrations.0009_two_factor")
    with schema_context("public"):
        plain = pyotp.random_base32()
        SuperAdminTotp.objects.create(user_id=superadmin.pk, secret=plain)
        migration.encrypt_console_secrets(global_apps, None)
        stored = SuperAdminTotp.objects.get(user_id=superadmin.pk).secret
    assert stored != plain and decrypt_text(stored) == plain


def test_the_platform_api_asks_a_super_admin_with_console_totp_for_the_code(api, superadmin):
    from tenants import superadmin_totp as totp

    with schema_context("public"):
        device = totp.totp_enrol_start(user=superadmin)
        secret = totp.secret_of(device)
        assert totp.totp_check(user_id=superadmin.pk, code=pyotp.TOTP(secret).now(), confirming=True)
    client = api("localhost")
    body = {"email": superadmin.email, "password": PASSWORD}

    missing = client.post("/platform/api/v1/auth/login", body)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "otp_required"
    signed_in = client.post("/platform/api/v1/auth/login", {**body, "otp": next_step_code(secret)})
    assert signed_in.status_code == 200
