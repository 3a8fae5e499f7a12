"""The platform API: super-admins provision and manage companies and plans."""

import pytest
from django_tenants.utils import schema_exists

from tests.fixtures.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_superadmin_provisions_a_company_whose_admin_can_log_in(platform_api, api):
    response = platform_api.post("/platform/api/v1/companies", {
        "name": "Acme Corp", "slug": "acme-corp", "plan": "pro",
        "admin_email": "boss@acme.example.com", "admin_password": PASSWORD,
    })

    assert response.status_code == 201, response.content
    company = response.json()
    assert company["host"] == "acme-corp.localhost"
    assert company["schema_name"] == "acme_corp"
    assert company["usage"]["agents"] == 1
    assert schema_exists("acme_corp")
    me = api("acme-corp.localhost").login("boss@acme.example.com")["user"]
    assert me["role"] == "admin"


@pytest.mark.parametrize("slug", ["A", "x", "1abc", "has space", "trailing-", "public", "www", "a" * 41])
def test_bad_slugs_are_refused_and_nothing_is_created(platform_api, slug):
    from tenants.models import Company

    before = Company.objects.count()
    response = platform_api.post("/platform/api/v1/companies", {
        "name": "Bad", "slug": slug, "admin_email": "x@example.com", "admin_password": PASSWORD,
    })
    assert response.status_code == 422
    assert Company.objects.count() == before


def test_a_taken_slug_is_409(platform_api, alpha):
    response = platform_api.post("/platform/api/v1/companies", {
        "name": "Again", "slug": alpha.slug, "admin_email": "x@example.com", "admin_password": PASSWORD,
    })
    assert response.status_code == 409
    assert response.json()["error"]["details"][0]["field"] == "slug"


def test_a_weak_admin_password_leaves_no_schema_behind(platform_api):
    response = platform_api.post("/platform/api/v1/companies", {
        "name": "Weak", "slug": "weak-co", "admin_email": "x@example.com", "admin_password": "12345678",
    })
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "password"
    assert not schema_exists("weak_co")


def test_companies_are_listed_with_filters_and_cursor(platform_api, make_company):
    made = {make_company(plan="free").pk for _ in range(3)}
    page = platform_api.get("/platform/api/v1/companies?plan=free&limit=2").json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = platform_api.get(f"/platform/api/v1/companies?plan=free&limit=2&cursor={page['next_cursor']}")
    ids = {c["id"] for c in page["items"]} | {c["id"] for c in rest.json()["items"]}
    assert made <= ids


def test_plans_are_seeded_and_editable(platform_api):
    plans = {p["code"]: p for p in platform_api.get("/platform/api/v1/plans").json()["items"]}
    assert {"free", "pro", "enterprise"} <= set(plans)
    assert plans["free"]["api_access"] is False and plans["enterprise"]["max_agents"] is None

    response = platform_api.patch("/platform/api/v1/plans/pro", {"max_agents": 25})
    assert response.status_code == 200 and response.json()["max_agents"] == 25
    assert platform_api.patch("/platform/api/v1/plans/pro", {"max_agents": -1}).status_code == 422


def test_unknown_company_is_404(platform_api):
    assert platform_api.get("/platform/api/v1/companies/999999").status_code == 404


def test_the_platform_api_needs_a_superadmin_token(api):
    response = api("localhost").get("/platform/api/v1/companies")
    assert response.status_code == 401


def test_the_platform_api_does_not_exist_on_tenant_hosts(api, alpha):
    assert api(alpha).get("/platform/api/v1/companies").status_code == 404


def test_the_create_company_command_prints_the_host(db, capsys):
    from django.core.management import call_command

    call_command("create_company", name="Cmd Co", slug="cmd-co", plan="free",
                 admin_email="cmd@example.com", admin_password=PASSWORD)
    assert capsys.readouterr().out.strip() == "cmd-co.localhost"


@pytest.mark.parametrize("fields", [{"api_access": None}, {"monthly_price": None},
                                    {"max_agents": 2**31}])
def test_a_null_feature_or_an_oversized_limit_is_422_and_the_plan_stays(platform_api, fields):
    from tenants.models import Plan

    before = Plan.objects.values().get(code="pro")
    response = platform_api.patch("/platform/api/v1/plans/pro", fields)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["details"][0]["field"] == next(iter(fields))
    assert Plan.objects.values().get(code="pro") == before

    created = platform_api.post("/platform/api/v1/plans", {"code": "nulls", "name": "N", **fields})
    assert created.status_code == 422, created.content
    assert not Plan.objects.filter(code="nulls").exists()
