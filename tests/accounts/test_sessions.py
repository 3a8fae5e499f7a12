"""Login, refresh rotation, logout and throttling."""

import pytest

from tests.fixtures.factories import PASSWORD, make_user, unique_email

pytestmark = pytest.mark.django_db


def test_refresh_rotates_and_the_old_refresh_token_dies(api, alpha):
    user = make_user(alpha)
    tokens = api(alpha).login(user.email)

    rotated = api(alpha).post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != tokens["refresh"]
    assert api(alpha, token=new["access"]).get("/api/v1/auth/me").json()["id"] == user.pk

    replay = api(alpha).post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]})
    assert replay.status_code == 401


def test_logout_blacklists_that_device_only(api, alpha):
    user = make_user(alpha)
    phone = api(alpha).login(user.email)
    laptop = api(alpha).login(user.email)

    response = api(alpha, token=phone["access"]).post(
        "/api/v1/auth/logout", {"refresh": phone["refresh"]},
    )
    assert response.status_code == 204

    assert api(alpha).post("/api/v1/auth/refresh", {"refresh": phone["refresh"]}).status_code == 401
    assert api(alpha).post("/api/v1/auth/refresh", {"refresh": laptop["refresh"]}).status_code == 200


def test_an_access_token_is_not_a_refresh_token(api, alpha):
    user = make_user(alpha)
    tokens = api(alpha).login(user.email)
    response = api(alpha).post("/api/v1/auth/refresh", {"refresh": tokens["access"]})
    assert response.status_code == 401


def test_a_deactivated_user_loses_access(api, alpha, in_schema):
    from apps.accounts.models import User

    user = make_user(alpha)
    tokens = api(alpha).login(user.email)
    with in_schema(alpha.schema_name):
        User.objects.filter(pk=user.pk).update(is_active=False)

    assert api(alpha, token=tokens["access"]).get("/api/v1/auth/me").status_code == 401
    assert api(alpha).post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}).status_code == 401
    response = api(alpha).post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_repeated_failures_lock_the_account_for_a_while(api, alpha, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    user = make_user(alpha)
    client = api(alpha)
    for _ in range(5):
        response = client.post("/api/v1/auth/login", {"email": user.email, "password": "wrong-pass"})
        assert response.status_code == 401

    locked = client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD})

    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert 0 < int(locked["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS


@pytest.mark.parametrize("look_alike", [
    lambda email: email.replace("i", "\u0131", 1),  # dotless ı: PostgreSQL's UPPER makes it I
    lambda email: email.replace("s", "\u017f", 1),  # long ſ: UPPER makes it S
])
def test_a_look_alike_of_a_locked_email_is_locked_too(api, alpha, settings, look_alike):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    user = make_user(alpha, email=unique_email("mission"))
    client = api(alpha)
    for _ in range(5):
        response = client.post("/api/v1/auth/login", {"email": user.email, "password": "wrong-pass"})
        assert response.status_code == 401

    # The look-alike finds the same account in the database, so it shares the account's budget.
    twin = look_alike(user.email)
    assert twin != user.email
    locked = client.post("/api/v1/auth/login", {"email": twin, "password": PASSWORD})

    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"


def test_failures_through_look_alikes_add_up_on_the_one_account(api, alpha, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 4
    user = make_user(alpha, email=unique_email("sister"))
    client = api(alpha)
    spellings = [user.email, user.email.upper(), user.email.replace("i", "\u0131"),
                 user.email.replace("s", "\u017f")]
    for email in spellings:
        assert client.post("/api/v1/auth/login", {"email": email, "password": "nope-nope"}).status_code == 401

    assert client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}).status_code == 429


def test_login_attempts_per_ip_are_limited(api, alpha, settings):
    settings.LOGIN_ATTEMPTS_PER_IP_PER_MINUTE = 3
    client = api(alpha, headers={"X-Forwarded-For": "ignored"})
    statuses = []
    for _ in range(4):
        response = client.request(
            "post", "/api/v1/auth/login", json={"email": "x@example.com", "password": "nope-nope"},
            headers={"REMOTE_ADDR": "10.9.8.7"},
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429


def test_agent_status_changes_are_recorded_as_periods(api, alpha, in_schema):
    from apps.accounts.models import AgentStatusPeriod

    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])

    assert client.post("/api/v1/auth/me/status", {"status": "available"}).status_code == 200
    paused = client.post("/api/v1/auth/me/status", {"status": "paused", "reason": "lunch"})
    assert paused.json()["status"] == "paused" and paused.json()["status_reason"] == "lunch"
    bad = client.post("/api/v1/auth/me/status", {"status": "sleeping"})
    assert bad.status_code == 422

    with in_schema(alpha.schema_name):
        periods = list(AgentStatusPeriod.objects.filter(user=user).order_by("started_at"))
    assert [p.status for p in periods] == ["offline", "available", "paused"]
    assert all(p.ended_at for p in periods[:-1]) and periods[-1].ended_at is None
