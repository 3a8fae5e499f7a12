"""`seed_demo` leaves one campaign really sent through the sandbox and one draft, once, with the list
they went to and a segment."""

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.campaigns.models import Campaign, CampaignRecipient
from apps.contacts.audiences import segment_contacts
from apps.contacts.models import Contact, ContactList, Segment
from apps.teamchat.models import Message as ChatMessage
from apps.teamchat.models import Room
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
        lists = list(ContactList.objects.values_list("name", flat=True))
        segments = list(Segment.objects.all())
        in_segment, contacts = segment_contacts(segments[0]).count(), Contact.objects.count()
        chat_rooms = sorted(Room.objects.values_list("kind", flat=True))
        chat_texts = list(ChatMessage.objects.filter(room__name="Whole team").values_list("text", flat=True))
    assert lists == ["Demo customers"] and [segment.name for segment in segments] == ["New leads"]
    assert in_segment == contacts > 0
    assert campaigns == {"Spring sale (demo)": "completed", "Saturday event (draft)": "draft"}
    assert statuses == {"sent"}
    assert chat_rooms == ["direct", "group"] and len(chat_texts) == 3  # team chat, once
