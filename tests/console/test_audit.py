"""Every console action and every platform API write leaves one platform audit entry."""

import pytest

from tenants.models import Plan, PlatformAuditEntry

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
    assert not actions(action="company.created")


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
