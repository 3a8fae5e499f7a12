"""`seed_demo` leaves one campaign really sent through the sandbox and one draft, once."""

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.campaigns.models import Campaign, CampaignRecipient
from tenants.models import Company

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_completed_campaign_and_a_draft(companies):
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    demo = Company.objects.get(slug="demo")
    with schema_context(demo.schema_name):
        campaigns = dict(Campaign.objects.values_list("name", "status"))
        statuses = set(CampaignRecipient.objects.filter(campaign__name="Spring sale (demo)")
                       .values_list("status", flat=True))
    assert campaigns == {"Spring sale (demo)": "completed", "Saturday event (draft)": "draft"}
    assert statuses == {"sent"}
