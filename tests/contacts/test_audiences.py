"""Who an audience selects: lists, segments and tags united, each contact once."""

import pytest
from django_tenants.utils import schema_context

from apps.contacts.audiences import audience_contacts, clean_segment_filters
from apps.contacts.models import Contact, ContactList, ContactListMember, Segment
from conversa.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def _contact(phone, **fields):
    return Contact.objects.create(phone=phone, **fields)


def test_union_of_lists_segment_and_tags_counts_each_contact_once(alpha):
    with schema_context(alpha.schema_name):
        in_list = _contact("+5511900000001", tags=["vip"])
        qualified = _contact("+5511900000002", lead_status="qualified")
        tagged = _contact("+5511900000003", tags=["promo"])
        _contact("+5511900000004")  # in nothing
        listed = ContactList.objects.create(name="Customers")
        ContactListMember.objects.create(contact_list=listed, contact=in_list)
        segment = Segment.objects.create(name="Qualified", filters={"lead_status": "qualified"})

        chosen = audience_contacts(list_ids=[listed.pk], segment_id=segment.pk, tags=["PROMO", "vip"])

        assert sorted(chosen.values_list("pk", flat=True)) == sorted([in_list.pk, qualified.pk, tagged.pk])
        assert audience_contacts().count() == 0
        everyone = Segment.objects.create(name="All", filters={})
        assert audience_contacts(segment_id=everyone.pk).count() == 4


def test_segment_filters_are_checked(alpha):
    with schema_context(alpha.schema_name):
        assert clean_segment_filters({"tags": ["VIP "], "q": " ana "}) == {"tags": ["vip"], "q": "ana"}
        for bad, field in [({"color": 1}, "filters.color"), ({"lead_status": "x"}, "filters.lead_status"),
                           ({"tags": "vip"}, "filters.tags"), ({"custom_fields": {"nope": 1}},
                                                                 "filters.custom_fields.nope")]:
            with pytest.raises(ValidationFailed) as caught:
                clean_segment_filters(bad)
            assert caught.value.details[0]["field"] == field
        with pytest.raises(ValidationFailed):
            audience_contacts(segment_id=999_999)
