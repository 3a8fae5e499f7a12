"""Companies in the console: list, create, page, plan, suspension (acceptance 1–3 without a browser)."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from tenants.counts import company_counts_refresh
from tenants.models import Company, PlatformAuditEntry
from tenants.usage import usage_increment
from tests.conftest import host_of
from tests.fixtures.factories import PASSWORD, make_api_key, make_user
from tests.fixtures.messaging import make_inbox

pytestmark = pytest.mark.django_db


def entries(company, action):
    return list(PlatformAuditEntry.objects.filter(company=company, action=action))


def test_the_list_shows_plan_status_counts_and_this_months_usage(console, make_company):
    company = make_company(plan="pro")
    make_user(company)
    make_inbox(company)
    usage_increment(schema_name=company.schema_name, counter="outbound_messages", amount=7)
    company_counts_refresh(company=company)

    page = console.get("/console/", q=company.slug).content.decode()

    row = re.search(rf'<tr data-slug="{company.slug}">(.*?)</tr>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", " ", cell).split() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1] == ["Pro"] and cells[2] == ["Active"]
    assert cells[3:7] == [["2"], ["1"], ["0"], ["7"]]  # the admin and one agent; one inbox
    assert f"{company.slug}.localhost" in row


def test_search_and_filters(console, make_company, alpha):
    free, pro = make_company(plan="free"), make_company(plan="pro")
    by_plan = console.get("/console/", plan="free").content.decode()
    assert f'data-slug="{free.slug}"' in by_plan and f'data-slug="{pro.slug}"' not in by_plan
    console.post(f"/console/companies/{pro.pk}/suspend/", {"reason": "unpaid"})
    suspended = console.get("/console/", status="suspended").content.decode()
    assert f'data-slug="{pro.slug}"' in suspended and f'data-slug="{free.slug}"' not in suspended
    searched = console.get("/console/", q="alph").content.decode()
    assert 'data-slug="alpha"' in searched and f'data-slug="{free.slug}"' not in searched


def test_the_list_is_paginated_in_a_fixed_number_of_queries(console, django_assert_max_num_queries):
    plan_id = Company.objects.get(slug="alpha").plan_id
    Company.objects.bulk_create([
        Company(schema_name=f"paged_{n:03d}", slug=f"paged-{n:03d}", name=f"Paged {n:03d}", plan_id=plan_id)
        for n in range(120)
    ])
    with django_assert_max_num_queries(12):  # session, user, count, page, counts, usage, plans…
        first = console.get("/console/", q="paged")
    assert first.content.decode().count('data-slug="paged-') == 50
    assert b"Page 1 of 3" in first.content
    last = console.get("/console/", q="paged", page=3).content.decode()
    assert last.count('data-slug="paged-') == 20 and 'data-slug="paged-119"' in last


def test_creating_a_company_shows_the_admins_password_once(console, api):
    response = console.post("/console/companies/new/", {
        "name": "Acme", "slug": "acme", "plan": "pro", "admin_email": "boss@acme.example.com",
    })
    acme = Company.objects.get(slug="acme")
    assert response.status_code == 302 and response["Location"] == f"/console/companies/{acme.pk}/created/"

    shown = console.get(response["Location"])
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    password = re.search(r'id="one-time-password">([^<]+)<', shown.content.decode()).group(1)
    assert "http://acme.localhost/app/login/" in shown.content.decode()
    again = console.get(response["Location"])
    assert again.status_code == 302 and password not in console.get(again["Location"]).content.decode()

    tenant = Client(HTTP_HOST="acme.localhost")
    signed_in = tenant.post("/app/login/", {"email": "boss@acme.example.com", "password": password})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/app/"
    [entry] = entries(acme, "company.created")
    assert entry.details == {"slug": "acme", "plan": "pro", "admin_email": "boss@acme.example.com"}
    assert password not in str(entry.details)


def test_a_taken_or_bad_slug_is_shown_on_the_form(console, alpha):
    taken = console.post("/console/companies/new/", {
        "name": "Again", "slug": "alpha", "plan": "pro", "admin_email": "x@example.com",
    })
    assert taken.status_code == 409 and b"Already in use" in taken.content
    bad = console.post("/console/companies/new/", {
        "name": "Bad", "slug": "Bad Slug", "plan": "pro", "admin_email": "x@example.com",
    })
    assert bad.status_code == 422 and not Company.objects.filter(name="Bad").exists()


def test_the_company_page_shows_live_counts_and_twelve_months_of_usage(console, make_company):
    company = make_company()
    usage_increment(schema_name=company.schema_name, counter="outbound_messages", amount=25)
    make_user(company)

    page = console.get(f"/console/companies/{company.pk}/").content.decode()

    assert re.search(r'data-usage="agents">2 / 20<', page)  # pro allows 20 agents
    assert re.search(r'data-usage="outbound">25', page)
    chart = re.search(r'<svg class="bar-chart".*?</svg>', page, re.S).group(0)
    assert chart.count("<rect") == 12
    assert "company_domains" not in page  # the include point renders nothing without its template


def test_editing_name_and_defaults(console, make_company):
    company = make_company()
    response = console.post(f"/console/companies/{company.pk}/edit/", {
        "name": "Renamed Co", "owner_email": "owner@example.com", "default_language": "es",
        "time_zone": "America/Sao_Paulo",
    })
    assert response.status_code == 302
    company.refresh_from_db()
    saved = (company.name, company.default_language, company.time_zone)
    assert saved == ("Renamed Co", "es", "America/Sao_Paulo")
    [entry] = entries(company, "company.updated")
    assert entry.details["changes"]["name"][1] == "Renamed Co"


def test_suspension_and_activation_with_reasons(console, api, make_company, bravo):
    """Acceptance 2 over HTTP (the sockets' 4402: tests/console/test_suspension_live.py)."""
    acme = make_company()
    user = make_user(acme)
    token = api(acme).login(user.email)["access"]
    browser = Client(HTTP_HOST=host_of(acme))
    assert browser.post("/app/login/", {"email": user.email, "password": PASSWORD}).status_code == 302

    suspended = console.post(f"/console/companies/{acme.pk}/suspend/", {"reason": "Invoice 42 unpaid"})
    assert suspended.status_code == 302

    page = browser.get("/app/")
    assert page.status_code == 402 and acme.name in page.content.decode()
    assert b"suspended" in page.content
    blocked = api(acme, token=token).get("/api/v1/auth/me")
    assert blocked.status_code == 402 and blocked.json()["error"]["code"] == "company_suspended"
    bravo_token = api(bravo).login(f"admin@{bravo.slug}.example.com")["access"]
    assert api(bravo, token=bravo_token).get("/api/v1/auth/me").status_code == 200
    banner = console.get(f"/console/companies/{acme.pk}/").content.decode()
    assert "suspended-banner" in banner and "Invoice 42 unpaid" in banner

    assert console.post(f"/console/companies/{acme.pk}/activate/", {"reason": "Paid"}).status_code == 302

    assert browser.get("/app/").status_code == 200
    assert api(acme, token=token).get("/api/v1/auth/me").status_code == 200
    assert "suspended-banner" not in console.get(f"/console/companies/{acme.pk}/").content.decode()
    assert [e.reason for e in entries(acme, "company.suspended")] == ["Invoice 42 unpaid"]
    assert [e.reason for e in entries(acme, "company.activated")] == ["Paid"]
    log = console.get("/console/audit/", company=acme.slug).content.decode()
    assert "Invoice 42 unpaid" in log and "company.activated" in log


def test_suspending_needs_a_reason(console, make_company):
    company = make_company()
    console.post(f"/console/companies/{company.pk}/suspend/", {"reason": ""})
    company.refresh_from_db()
    assert company.status == Company.Status.ACTIVE and not entries(company, "company.suspended")


def test_lowering_the_plan_keeps_users_and_refuses_new_ones(console, api, make_company, in_schema):
    """Acceptance 3: pro (20 agents, API access) → free (3 agents, no API access)."""
    from apps.accounts.models import User

    acme = make_company(plan="pro")
    admin = api(acme, token=api(acme).login(f"admin@{acme.slug}.example.com")["access"])
    for n in range(3):
        new_user = {"email": f"p{n}@example.com", "password": "long-password-1"}
        assert admin.post("/api/v1/users", new_user).status_code == 201
    _, key = make_api_key(acme, scopes=["users:read"])
    assert api(acme, headers={"X-Api-Key": key}).get("/api/v1/users").status_code == 200

    assert console.post(f"/console/companies/{acme.pk}/plan/", {"plan": "free"}).status_code == 302

    with in_schema(acme.schema_name):
        assert User.objects.filter(is_active=True).count() == 4
    refused = admin.post("/api/v1/users", {"email": "p9@example.com", "password": "long-password-1"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_limit_reached"
    assert refused.json()["error"]["details"] == {"limit": 3, "used": 4, "resource": "max_agents"}
    keyed = api(acme, headers={"X-Api-Key": key}).get("/api/v1/users")
    assert keyed.status_code == 403 and keyed.json()["error"]["code"] == "feature_not_in_plan"
    assert admin.get("/api/v1/users").status_code == 200  # people keep their sessions
    [entry] = entries(acme, "company.plan_changed")
    assert entry.details == {"from": "pro", "to": "free"}


def test_counts_come_from_each_companys_own_schema(make_company):
    one, two = make_company(), make_company()
    make_user(one)
    make_user(one)
    with schema_context("public"):
        assert company_counts_refresh(company=one).agents == 3
        assert company_counts_refresh(company=two).agents == 1


def test_the_periodic_refresh_counts_every_company_and_skips_a_broken_one(alpha, bravo):
    from tenants.models import CompanyCounts
    from tenants.tasks import company_counts_refresh_periodically

    Company.objects.bulk_create([Company(schema_name="no_schema_here", slug="no-schema-here",
                                         name="Broken", plan_id=alpha.plan_id)])

    refreshed = company_counts_refresh_periodically.call_local()

    assert refreshed == Company.objects.exclude(schema_name="public").count() - 1
    assert CompanyCounts.objects.get(company=alpha).agents >= 1
    assert not CompanyCounts.objects.filter(company__slug="no-schema-here").exists()
