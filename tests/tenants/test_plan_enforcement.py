"""Plans are enforced: suspension, features, count limits and the API rate (acceptance 4)."""

import pytest

from tests.fixtures.factories import PASSWORD, make_api_key, make_user

pytestmark = pytest.mark.django_db


def new_user(email: str) -> dict:
    return {"email": email, "password": "long-password-1"}


def test_suspending_a_company_blocks_its_api_and_no_one_else(platform_api, api, make_company):
    acme, other = make_company(), make_company()
    acme_user, other_user = make_user(acme), make_user(other)
    acme_token = api(acme).login(acme_user.email)["access"]
    other_token = api(other).login(other_user.email)["access"]

    response = platform_api.post(f"/platform/api/v1/companies/{acme.pk}/suspend", {"reason": "unpaid"})
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"

    blocked = api(acme, token=acme_token).get("/api/v1/auth/me")
    assert blocked.status_code == 402
    assert blocked.json()["error"]["code"] == "company_suspended"
    login = api(acme).post("/api/v1/auth/login", {"email": acme_user.email, "password": PASSWORD})
    assert login.status_code == 402
    assert api(other, token=other_token).get("/api/v1/auth/me").status_code == 200

    # a browser gets a branded page instead of JSON
    page = api(acme).get("/")
    assert page.status_code == 402
    assert acme.name in page.content.decode()

    platform_api.post(f"/platform/api/v1/companies/{acme.pk}/activate", {"reason": "paid"})
    assert api(acme, token=acme_token).get("/api/v1/auth/me").status_code == 200


def test_a_plan_without_api_access_refuses_api_keys(api, make_company):
    company = make_company(plan="free")
    _, key = make_api_key(company, scopes=["users:read"])

    for client in (api(company, headers={"X-Api-Key": key}), api(company, token=key)):
        response = client.get("/api/v1/users")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "feature_not_in_plan"

    # people keep using the API with their own session
    admin_token = api(company).login(f"admin@{company.slug}.example.com")["access"]
    assert api(company, token=admin_token).get("/api/v1/users").status_code == 200


def test_creating_users_beyond_max_agents_is_refused_with_limit_and_used(api, make_company, in_schema):
    from apps.accounts.models import User

    company = make_company(plan="free")  # max_agents = 3, the admin is one
    admin = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])
    for n in range(2):
        response = admin.post("/api/v1/users", new_user(f"agent{n}@example.com"))
        assert response.status_code == 201

    refused = admin.post("/api/v1/users", new_user("one-too-many@example.com"))

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "plan_limit_reached"
    assert error["details"]["limit"] == 3 and error["details"]["used"] == 3
    with in_schema(company.schema_name):
        assert not User.objects.filter(email="one-too-many@example.com").exists()


def test_a_deactivated_user_frees_a_seat(api, make_company):
    company = make_company(plan="free")
    admin = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])
    ids = [admin.post("/api/v1/users", new_user(f"s{n}@example.com")).json()["id"] for n in range(2)]
    assert admin.post("/api/v1/users", new_user("s8@example.com")).status_code == 403
    assert admin.delete(f"/api/v1/users/{ids[0]}").status_code == 200
    assert admin.post("/api/v1/users", new_user("s9@example.com")).status_code == 201


def test_api_key_requests_beyond_the_plan_rate_get_429_with_retry_after(api, platform_api, make_company):
    company = make_company(plan="pro")
    platform_api.post("/platform/api/v1/plans", {
        "code": "tiny-api", "name": "Tiny API", "api_access": True, "api_requests_per_minute": 3,
    })
    platform_api.patch(f"/platform/api/v1/companies/{company.pk}", {"plan": "tiny-api"})
    _, key = make_api_key(company, scopes=["users:read"])
    client = api(company, headers={"X-Api-Key": key})

    statuses = [client.get("/api/v1/users").status_code for _ in range(4)]

    assert statuses[:3] == [200, 200, 200]
    assert statuses[3] == 429
    limited = client.get("/api/v1/users")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60


def test_routes_of_a_feature_outside_the_plan_are_403(api, make_company):
    company = make_company(plan="free")  # no campaigns
    token = api(company).login(f"admin@{company.slug}.example.com")["access"]
    response = api(company, token=token).get("/api/v1/campaigns")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_not_in_plan"
    assert response.json()["error"]["details"]["feature"] == "campaigns"


def test_lowering_the_plan_keeps_existing_users_and_refuses_new_ones(
    api, platform_api, make_company, in_schema,
):
    from apps.accounts.models import User

    company = make_company(plan="pro")
    admin = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])
    for n in range(4):
        assert admin.post("/api/v1/users", new_user(f"p{n}@example.com")).status_code == 201

    assert platform_api.patch(f"/platform/api/v1/companies/{company.pk}", {"plan": "free"}).status_code == 200

    with in_schema(company.schema_name):
        assert User.objects.filter(is_active=True).count() == 5
    refused = admin.post("/api/v1/users", new_user("p9@example.com"))
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"limit": 3, "used": 5, "resource": "max_agents"}
