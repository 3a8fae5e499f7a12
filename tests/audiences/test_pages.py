"""Contacts → Lists and Segments, "Add to list", "Merge with…" and "Erase personal data" in the
agents' UI (server-rendered; the browser test drives the same pages in Chromium)."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.contacts.models import Contact, ContactList, ContactListMember, Segment
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_user
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(alpha):
    return {role: make_user(alpha, role=role, name=f"{role.title()} Person")
            for role in ("admin", "supervisor", "agent")}


def test_a_supervisor_creates_a_list_and_adds_ticked_contacts_from_the_contacts_page(alpha, office):
    sara = signed_in(alpha, office["supervisor"])
    ana, bia = make_contact(alpha, name="Ana Lista"), make_contact(alpha, name="Bia Lista")
    created = sara.post("/app/contacts/lists/", {"name": "Clientes", "description": "Fiéis"})
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        contact_list = ContactList.objects.get(name="Clientes")
    contacts_page = sara.get("/app/contacts/").content.decode()
    assert 'form="add-to-list"' in contacts_page and f'value="{contact_list.pk}"' in contacts_page

    added = sara.post("/app/contacts/add-to-list/", {
        "list_id": contact_list.pk, "contact_ids": [ana.pk, bia.pk], "query": "q=Lista",
    })
    assert added.status_code == 302 and added["Location"] == "/app/contacts/?q=Lista"
    page = sara.get(f"/app/contacts/lists/{contact_list.pk}/").content.decode()
    assert "Ana Lista" in page and "Bia Lista" in page and "2 members" in page
    filtered = sara.get(f"/app/contacts/?list={contact_list.pk}").content.decode()
    assert "Ana Lista" in filtered
    assert sara.post(f"/app/contacts/lists/{contact_list.pk}/members/{ana.pk}/remove/").status_code == 302
    with schema_context(alpha.schema_name):
        assert list(ContactListMember.objects.filter(contact_list=contact_list)
                    .values_list("contact_id", flat=True)) == [bia.pk]
    renamed = sara.post(f"/app/contacts/lists/{contact_list.pk}/", {"name": "VIP", "description": ""})
    assert renamed.status_code == 302
    duplicate = sara.post("/app/contacts/lists/", {"name": "vip"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.content.decode()
    assert sara.post(f"/app/contacts/lists/{contact_list.pk}/delete/").status_code == 302
    with schema_context(alpha.schema_name):
        assert not ContactList.objects.exists()


def test_agents_see_lists_and_segments_read_only(alpha, office):
    make_contact(alpha, name="Read Only", lead_status="customer")
    with schema_context(alpha.schema_name):
        contact_list = ContactList.objects.create(name="Theirs")
        segment = Segment.objects.create(name="Customers", filters={"lead_status": "customer"})
    agent = signed_in(alpha, office["agent"])
    lists_page = agent.get("/app/contacts/lists/").content.decode()
    assert "Theirs" in lists_page and "Create list" not in lists_page
    segment_page = agent.get(f"/app/contacts/segments/{segment.pk}/").content.decode()
    assert "Read Only" in segment_page and "Delete segment" not in segment_page
    assert 'form="add-to-list"' not in agent.get("/app/contacts/").content.decode()
    refused = agent.post("/app/contacts/lists/", {"name": "Mine"})
    assert refused.status_code == 403
    assert agent.post(f"/app/contacts/lists/{contact_list.pk}/delete/").status_code == 404
    assert agent.post(f"/app/contacts/segments/{segment.pk}/delete/").status_code == 404
    with schema_context(alpha.schema_name):
        assert ContactList.objects.count() == 1 and Segment.objects.count() == 1


def test_the_segment_builder_counts_live_and_saves(alpha, office):
    for name in ("Qual Um", "Qual Dois"):
        make_contact(alpha, name=name, lead_status="qualified", tags=["vip"])
    make_contact(alpha, name="Novo", tags=["vip"])
    sara = signed_in(alpha, office["supervisor"])
    count = sara.get("/app/contacts/segments/count/?tags=VIP&lead_status=qualified")
    assert re.search(r"\b2 contacts match", count.content.decode())
    bad = sara.get("/app/contacts/segments/count/?custom_field=nope%3D1").content.decode()
    assert "Unknown custom field" in bad
    created = sara.post("/app/contacts/segments/", {"name": "Qualificados VIP", "tags": "vip",
                                                    "lead_status": "qualified"})
    assert created.status_code == 302
    page = sara.get(created["Location"]).content.decode()
    assert "Qual Um" in page and "Novo" not in page
    assert "Qualificados VIP" in sara.get("/app/contacts/segments/").content.decode()


def test_merge_and_erase_from_the_contact_page(alpha, office):
    kept, other = make_contact(alpha, name="Kept Person"), make_contact(alpha, name="Other Person")
    sara = signed_in(alpha, office["supervisor"])
    page = sara.get(f"/app/contacts/{kept.pk}/").content.decode()
    assert "Merge with" in page and "Erase personal data" not in page
    candidates = sara.get(f"/app/contacts/{kept.pk}/merge/candidates/?q=Person").content.decode()
    assert f'value="{other.pk}"' in candidates and f'value="{kept.pk}"' not in candidates
    merged = sara.post(f"/app/contacts/{kept.pk}/merge/", {"other_id": other.pk}, **{"HX-Request": "true"})
    assert merged["HX-Redirect"] == f"/app/contacts/{kept.pk}/"
    assert "Contacts merged" in sara.get(f"/app/contacts/{kept.pk}/").content.decode()
    assert sara.post(f"/app/contacts/{kept.pk}/erase/").status_code == 404

    admin = signed_in(alpha, office["admin"])
    assert "Erase personal data" in admin.get(f"/app/contacts/{kept.pk}/").content.decode()
    assert admin.post(f"/app/contacts/{kept.pk}/erase/").status_code == 302
    with schema_context(alpha.schema_name):
        erased = Contact.all_objects.get(pk=kept.pk)
    assert erased.erased_at is not None and erased.name == "Erased contact"
    assert office["agent"] and signed_in(alpha, office["agent"]).get(
        f"/app/contacts/{other.pk}/merge/candidates/").status_code == 404
