"""Every console action and every platform API write leaves one platform audit entry."""


import pytest

from tenants import dns
from tenants.domains import domain_add
from tenants.models import Company, Domain, Plan, PlatformAuditEntry

pytestmark = pytest.mark.django_db


def actions(**filters) -> list[str]:
    return list(PlatformAuditEntry.objects.filter(**filters).order_by("id").values_list("action", flat=True))


def test_console_plan_edit_and_create_are_audited(console, superadmin):
    response = console.post("/console/plans/new/", {
        "code": "starter", "name": "Starter", "monthly_price": "19.00", "max_agents": "2",
        "api_access": "on",
    })
    assert response.status_code == 302
    starter = Plan.objects.get(code="starter")
    limits = (starter.max_agents, starter.max_inboxes, starter.api_access, starter.flows)
    assert limits == (2, None, True, False)

    edit = {"name": "Starter+", "monthly_price": "29.00", "max_agents": "4", "max_inboxes": "1"}
    assert console.post("/console/plans/starter/", edit).status_code == 302
    starter.refresh_from_db()
    limits = (starter.name, starter.max_agents, starter.max_inboxes, starter.api_access)
    assert limits == ("Starter+", 4, 1, False)

    entries = PlatformAuditEntry.objects.filter(action__startswith="plan.").order_by("id")
    assert [e.action for e in entries] == ["plan.created", "plan.updated"]
    assert all(e.actor_email == superadmin.email and e.source == "console" for e in entries)
    assert entries[1].details["changes"]["max_agents"] == ["2", "4"]
    assert entries[1].ip == "127.0.0.1"


def test_a_bad_plan_form_changes_nothing(console):
    response = console.post("/console/plans/pro/", {"name": "", "monthly_price": "-"})
    assert response.status_code == 422
    assert Plan.objects.get(code="pro").name == "Pro" and not actions(action__startswith="plan.")


def test_every_platform_api_write_is_audited(platform_api, superadmin):
    created = platform_api.post("/platform/api/v1/companies", {
        "name": "Api Co", "slug": "api-co", "plan": "free", "admin_email": "a@api-co.example.com",
        "admin_password": "long-password-1",
    })
    assert created.status_code == 201, created.content
    company_id = created.json()["id"]
    platform_api.patch(f"/platform/api/v1/companies/{company_id}", {"plan": "pro", "name": "Api Company"})
    platform_api.post(f"/platform/api/v1/companies/{company_id}/suspend", {"reason": "fraud check"})
    platform_api.post(f"/platform/api/v1/companies/{company_id}/activate", {"reason": "cleared"})
    platform_api.post("/platform/api/v1/plans", {"code": "api-plan", "name": "Api plan"})
    platform_api.patch("/platform/api/v1/plans/api-plan", {"max_agents": 9})

    assert actions(source="api") == [
        "company.created", "company.plan_changed", "company.updated", "company.suspended",
        "company.activated", "plan.created", "plan.updated",
    ]
    suspended = PlatformAuditEntry.objects.get(action="company.suspended")
    assert suspended.reason == "fraud check" and suspended.company_id == company_id
    assert suspended.actor_id == superadmin.pk and suspended.actor_email == superadmin.email


def test_a_refused_api_write_leaves_no_entry(platform_api, alpha):
    assert platform_api.post("/platform/api/v1/companies", {
        "name": "Dup", "slug": "alpha", "plan": "free", "admin_email": "a@example.com",
        "admin_password": "long-password-1",
    }).status_code == 409
    assert not actions(action="company.created", source="api")


def test_the_audit_page_filters(console, make_company):
    one, two = make_company(), make_company()
    console.post(f"/console/companies/{one.pk}/suspend/", {"reason": "reason-one"})
    console.post(f"/console/companies/{two.pk}/plan/", {"plan": "free"})

    by_company = console.get("/console/audit/", company=one.slug).content.decode()
    assert "reason-one" in by_company and "company.plan_changed" not in by_company
    by_action = console.get("/console/audit/", action="plan_changed").content.decode()
    assert "company.plan_changed" in by_action and "reason-one" not in by_action
    from_api = console.get("/console/audit/", source="api").content.decode()
    assert "reason-one" not in from_api


# --- one action, one entry, whichever door ---------------------------------------------------------

DOMAIN = "help.audit-once.test"


def _company_form(slug: str) -> dict:
    return {"name": "Once", "slug": slug, "plan": "free", "admin_email": f"a@{slug}.example.com"}


def _domain(company) -> Domain:
    return Domain.objects.get(tenant_id=company.pk, domain=DOMAIN)


# action → (how the console does it, how the platform API does it); each gets a fresh company.
DOORS = {
    "company.created": (
        lambda console, company: console.post("/console/companies/new/", _company_form("once-console")),
        lambda api, company: api.post("/platform/api/v1/companies", {
            **_company_form("once-api"), "admin_password": "long-password-1"}),
    ),
    "company.updated": (
        lambda console, company: console.post(f"/console/companies/{company.pk}/edit/", {
            "name": "Renamed", "owner_email": "owner@example.com", "default_language": "en",
            "time_zone": "UTC"}),
        lambda api, company: api.patch(f"/platform/api/v1/companies/{company.pk}", {"name": "Renamed"}),
    ),
    "company.plan_changed": (
        lambda console, company: console.post(f"/console/companies/{company.pk}/plan/", {"plan": "free"}),
        lambda api, company: api.patch(f"/platform/api/v1/companies/{company.pk}", {"plan": "free"}),
    ),
    "company.suspended": (
        lambda console, company: console.post(f"/console/companies/{company.pk}/suspend/",
                                              {"reason": "unpaid"}),
        lambda api, company: api.post(f"/platform/api/v1/companies/{company.pk}/suspend",
                                      {"reason": "unpaid"}),
    ),
    "company.activated": (
        lambda console, company: console.post(f"/console/companies/{company.pk}/activate/",
                                              {"reason": "paid"}),
        lambda api, company: api.post(f"/platform/api/v1/companies/{company.pk}/activate",
                                      {"reason": "paid"}),
    ),
    "company.branding_changed": (
        lambda console, company: console.post(f"/console/companies/{company.pk}/branding/", {
            "brand_name": "Brand", "primary_color": "#112233", "support_email": ""}),
        lambda api, company: api.patch(f"/platform/api/v1/companies/{company.pk}/branding",
                                       {"brand_name": "Brand"}),
    ),
    "domain.added": (
        lambda console, company: console.post(f"/console/companies/{company.pk}/domains/add/",
                                              {"domain": DOMAIN}),
        lambda api, company: api.post(f"/platform/api/v1/companies/{company.pk}/domains",
                                      {"domain": DOMAIN}),
    ),
    "domain.verified": (
        lambda console, company: console.post(
            f"/console/companies/{company.pk}/domains/{_domain(company).pk}/verify/"),
        lambda api, company: api.post(
            f"/platform/api/v1/companies/{company.pk}/domains/{_domain(company).pk}/verify"),
    ),
    "domain.removed": (
        lambda console, company: console.post(
            f"/console/companies/{company.pk}/domains/{_domain(company).pk}/remove/"),
        lambda api, company: api.delete(
            f"/platform/api/v1/companies/{company.pk}/domains/{_domain(company).pk}"),
    ),
    "plan.created": (
        lambda console, company: console.post("/console/plans/new/", {
            "code": "once", "name": "Once", "monthly_price": "1.00"}),
        lambda api, company: api.post("/platform/api/v1/plans", {"code": "once", "name": "Once"}),
    ),
    "plan.updated": (
        lambda console, company: console.post("/console/plans/pro/", {
            "name": "Pro+", "monthly_price": "99.00"}),
        lambda api, company: api.patch("/platform/api/v1/plans/pro", {"name": "Pro+"}),
    ),
}


@pytest.fixture
def published_dns(monkeypatch):
    """Every domain's TXT record is published (the verify action finds its token)."""
    monkeypatch.setattr(dns, "txt_records", lambda name: list(
        Domain.objects.filter(domain=name.removeprefix("_conversa-challenge."))
        .values_list("verification_token", flat=True)
    ))


@pytest.mark.usefixtures("fresh_host_list", "published_dns")
@pytest.mark.parametrize("door", ["console", "api"])
@pytest.mark.parametrize("action", sorted(DOORS))
def test_one_action_writes_exactly_one_entry_through_either_door(
    action, door, console, platform_api, superadmin, make_company,
):
    needs_company = not action.startswith("plan.") and action != "company.created"
    company = make_company(plan="enterprise") if needs_company else None
    if action.startswith("domain.") and action != "domain.added":
        domain_add(company=company, domain=DOMAIN)
    before = PlatformAuditEntry.objects.count()
    client = console if door == "console" else platform_api

    response = DOORS[action][0 if door == "console" else 1](client, company)

    assert response.status_code < 400, response.content[:300]
    new = list(PlatformAuditEntry.objects.order_by("id")[before:])
    assert [(entry.action, entry.source) for entry in new] == [(action, door)]
    entry = new[0]
    assert (entry.actor_id, entry.actor_email) == (superadmin.pk, superadmin.email)
    assert entry.ip == "127.0.0.1"
    if action == "company.created":
        assert entry.company_id == Company.objects.get(slug=f"once-{door}").pk
    elif company is not None:
        assert entry.company_id == company.pk


def test_a_command_or_task_is_audited_as_the_system(make_company):
    company = make_company()
    entry = PlatformAuditEntry.objects.filter(company=company).get()
    assert (entry.action, entry.source, entry.actor_id, entry.ip) == ("company.created", "system", None, None)
