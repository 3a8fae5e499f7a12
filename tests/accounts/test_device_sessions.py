"""A user's devices (API sessions): listed, followed through refreshes, revoked one, all others,
or all at once by deactivation; never visible or revocable by anyone else."""

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import user_deactivate
from tests.fixtures.factories import PASSWORD, make_user, unique_email

pytestmark = pytest.mark.django_db


def login_from(api, company, email, agent: str) -> dict:
    response = api(company).post("/api/v1/auth/login", {"email": email, "password": PASSWORD},
                                 headers={"User-Agent": agent})
    assert response.status_code == 200, response.content
    return response.json()


def test_each_login_is_a_device_with_its_user_agent_and_the_current_one_marked(api, alpha):
    user = make_user(alpha)
    phone = login_from(api, alpha, user.email, "Conversa-Android/3.1")
    laptop = login_from(api, alpha, user.email, "Mozilla/5.0 (X11; Linux)")

    items = api(alpha, token=laptop["access"]).get("/api/v1/auth/sessions").json()["items"]

    assert [(item["user_agent"], item["current"]) for item in items] == [
        ("Mozilla/5.0 (X11; Linux)", True), ("Conversa-Android/3.1", False)]
    assert all(item["ip"] == "127.0.0.1" and item["created_at"] for item in items)
    assert phone["refresh"] != laptop["refresh"]


def test_a_refresh_keeps_the_device_and_moves_its_last_use(api, alpha):
    user = make_user(alpha)
    tokens = login_from(api, alpha, user.email, "Phone")
    before = api(alpha, token=tokens["access"]).get("/api/v1/auth/sessions").json()["items"][0]

    rotated = api(alpha).post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}).json()
    after = api(alpha, token=rotated["access"]).get("/api/v1/auth/sessions").json()["items"]

    assert [item["id"] for item in after] == [before["id"]]
    assert after[0]["last_used_at"] > before["last_used_at"] and after[0]["current"] is True


def test_revoking_a_device_refuses_its_refresh_and_access_tokens_at_once(api, alpha):
    user = make_user(alpha)
    phone = login_from(api, alpha, user.email, "Phone")
    laptop = login_from(api, alpha, user.email, "Laptop")
    laptop_api = api(alpha, token=laptop["access"])
    phone_id = next(item["id"] for item in laptop_api.get("/api/v1/auth/sessions").json()["items"]
                    if item["user_agent"] == "Phone")

    assert laptop_api.delete(f"/api/v1/auth/sessions/{phone_id}").status_code == 204

    assert api(alpha, token=phone["access"]).get("/api/v1/auth/me").status_code == 401
    assert api(alpha).post("/api/v1/auth/refresh", {"refresh": phone["refresh"]}).status_code == 401
    assert laptop_api.get("/api/v1/auth/me").status_code == 200
    left = laptop_api.get("/api/v1/auth/sessions").json()["items"]
    assert [item["user_agent"] for item in left] == ["Laptop"]


def test_signing_out_all_other_devices_keeps_the_one_asking(api, alpha):
    user = make_user(alpha)
    others = [login_from(api, alpha, user.email, f"Device {n}") for n in range(3)]
    mine = login_from(api, alpha, user.email, "Mine")

    response = api(alpha, token=mine["access"]).post("/api/v1/auth/sessions/revoke-others")

    assert response.json() == {"revoked": 3}
    for other in others:
        assert api(alpha).post("/api/v1/auth/refresh", {"refresh": other["refresh"]}).status_code == 401
    assert api(alpha).post("/api/v1/auth/refresh", {"refresh": mine["refresh"]}).status_code == 200


def test_logout_ends_the_device_and_only_the_owner_can_log_a_token_out(api, alpha):
    user, other = make_user(alpha), make_user(alpha)
    tokens = login_from(api, alpha, user.email, "Phone")
    stranger = login_from(api, alpha, other.email, "Elsewhere")

    refused = api(alpha, token=stranger["access"]).post("/api/v1/auth/logout", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401
    assert api(alpha, token=tokens["access"]).post(
        "/api/v1/auth/logout", {"refresh": tokens["refresh"]}).status_code == 204
    assert api(alpha, token=tokens["access"]).get("/api/v1/auth/me").status_code == 401


def test_nobody_sees_or_revokes_another_users_devices(api, alpha):
    user, other = make_user(alpha), make_user(alpha, role="admin")
    tokens = login_from(api, alpha, user.email, "Phone")
    admin = login_from(api, alpha, other.email, "Admin laptop")
    admin_api = api(alpha, token=admin["access"])
    user_session = api(alpha, token=tokens["access"]).get("/api/v1/auth/sessions").json()["items"][0]["id"]

    assert [item["user_agent"] for item in admin_api.get("/api/v1/auth/sessions").json()["items"]] == [
        "Admin laptop"]
    assert admin_api.delete(f"/api/v1/auth/sessions/{user_session}").status_code == 404
    assert api(alpha, token=tokens["access"]).get("/api/v1/auth/me").status_code == 200


def test_a_device_of_company_a_means_nothing_on_b(api, alpha, bravo):
    email = unique_email("twin")
    for company in (alpha, bravo):
        make_user(company, email=email)
    on_a = login_from(api, alpha, email, "A phone")
    on_b = login_from(api, bravo, email, "B phone")
    a_session = api(alpha, token=on_a["access"]).get("/api/v1/auth/sessions").json()["items"][0]["id"]

    b_api = api(bravo, token=on_b["access"])
    assert api(bravo, token=on_a["access"]).get("/api/v1/auth/sessions").status_code == 401
    b_api.delete(f"/api/v1/auth/sessions/{a_session}")  # B's own id space: A's device is untouched
    assert api(alpha, token=on_a["access"]).get("/api/v1/auth/me").status_code == 200
    assert api(alpha).post("/api/v1/auth/refresh", {"refresh": on_a["refresh"]}).status_code == 200


def test_deactivation_revokes_every_device_at_once(api, alpha):
    user = make_user(alpha)
    devices = [login_from(api, alpha, user.email, f"Device {n}") for n in range(2)]
    with schema_context(alpha.schema_name):
        admin = User.objects.get(email=f"admin@{alpha.slug}.example.com")
        user_deactivate(user=User.objects.get(pk=user.pk), actor=admin)
        # reactivated, the old devices stay signed out: their tokens were revoked, not just refused
        User.objects.filter(pk=user.pk).update(is_active=True)

    for device in devices:
        assert api(alpha, token=device["access"]).get("/api/v1/auth/me").status_code == 401
        assert api(alpha).post("/api/v1/auth/refresh", {"refresh": device["refresh"]}).status_code == 401
