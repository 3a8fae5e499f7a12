"""Trials end and cancellations run out: the admins' warning email, suspension, grace periods."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import lifecycle
from tenants.models import Company
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


def in_trial(company: Company, ends_in: dt.timedelta) -> Company:
    Company.objects.filter(pk=company.pk).update(status=Company.Status.TRIAL,
                                                 trial_ends_at=timezone.now() + ends_in)
    return Company.objects.get(pk=company.pk)


def test_admins_are_warned_once_three_days_before_the_trial_ends(make_company, mailbox, sent):
    company = in_trial(make_company(), dt.timedelta(days=2, hours=23))
    later = in_trial(make_company(), dt.timedelta(days=5))
    spanish_admin = make_user(company, role="admin")
    with schema_context(company.schema_name):
        from apps.accounts.models import User

        User.objects.filter(pk=spanish_admin.pk).update(language="es")
    make_user(company, role="agent")

    assert sent(lifecycle.trials_warn) >= 1
    assert sent(lifecycle.trials_warn) == 0  # once
    [first] = mailbox.wait_for(f"admin@{company.slug}.example.com")
    assert company.name in first.subject and "/app/" in first.text
    [spanish] = mailbox.wait_for(spanish_admin.email)
    assert "prueba" in spanish.subject.lower()
    assert len(mailbox.messages) == 2  # admins only, and nothing for the later trial
    assert Company.objects.get(pk=later.pk).trial_warning_sent_at is None


def test_at_its_end_a_trial_is_suspended_with_a_branded_page_unless_it_pays(make_company, api):
    ended = in_trial(make_company(), -dt.timedelta(minutes=1))
    paying = in_trial(make_company(), -dt.timedelta(minutes=1))
    Company.objects.filter(pk=paying.pk).update(status=Company.Status.ACTIVE)
    running = in_trial(make_company(), dt.timedelta(days=1))

    assert lifecycle.trials_end() >= 1
    statuses = dict(
        Company.objects.filter(pk__in=[ended.pk, paying.pk, running.pk]).values_list("pk", "status"),
    )
    assert statuses == {ended.pk: "suspended", paying.pk: "active", running.pk: "trial"}
    response = api(ended).post("/api/v1/auth/login",
                               {"email": f"admin@{ended.slug}.example.com", "password": "x"})
    assert response.status_code == 402 and response.json()["error"]["code"] == "company_suspended"
    page = api(ended).client.get("/app/login/")
    assert page.status_code == 402
    assert b'id="trial-ended"' in page.content and ended.name.encode() in page.content


def test_moving_a_trial_to_a_paid_plan_makes_it_a_paying_company(make_company):
    from tenants.services import company_change_plan

    company = in_trial(make_company(plan="free"), -dt.timedelta(minutes=1))
    company_change_plan(company=company, plan_code="pro")
    lifecycle.trials_end()
    assert Company.objects.get(pk=company.pk).status == Company.Status.ACTIVE


def test_a_cancellation_keeps_the_company_working_until_its_grace_period_ends(
    make_company, platform_api, api,
):
    company = make_company()
    asked = platform_api.post(f"/platform/api/v1/companies/{company.pk}/cancel")
    assert asked.status_code == 200, asked.content
    body = asked.json()
    assert body["status"] == "active" and body["grace_ends_at"] and body["cancel_requested_at"]

    assert lifecycle.grace_periods_end() == 0
    Company.objects.filter(pk=company.pk).update(grace_ends_at=timezone.now() - dt.timedelta(seconds=1))
    assert lifecycle.grace_periods_end() >= 1
    shown = platform_api.get(f"/platform/api/v1/companies/{company.pk}").json()
    assert shown["status"] == "cancelled"
    assert api(company).get("/api/v1/auth/me").status_code == 402

    # An operator may bring it back; the old deadline does not cancel it again.
    activated = platform_api.post(f"/platform/api/v1/companies/{company.pk}/activate", {"reason": "paid"})
    assert activated.json()["grace_ends_at"] is None
    assert lifecycle.grace_periods_end() == 0
