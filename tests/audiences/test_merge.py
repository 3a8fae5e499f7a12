"""`POST /api/v1/contacts/{id}/merge`: the other contact folds into the kept one."""

import pytest

from apps.audit.models import AuditLog
from apps.contacts.models import Contact, ContactListMember
from apps.conversations.models import Conversation, Note
from apps.conversations.services import note_add
from tests.fixtures.contacts import make_contact, make_custom_field, unique_phone
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def test_merging_moves_conversations_notes_lists_tags_and_fills_fields(supervisor, alpha, in_schema):
    make_custom_field(alpha, key="plan")
    make_custom_field(alpha, key="size")
    kept_phone, other_phone = unique_phone(), unique_phone()
    support, sales = make_inbox(alpha, name="Support"), make_inbox(alpha, name="Sales")
    make_contact(alpha, phone=kept_phone, name="Ana", tags=["vip"], custom_fields={"plan": "gold"})
    receive(alpha, support, phone=kept_phone, text="kept's support chat")
    make_contact(alpha, phone=other_phone, email="ana@example.com", city="Recife", tags=["sp", "vip"],
                 custom_fields={"plan": "silver", "size": "L"}, lead_status="qualified")
    on_support = receive(alpha, support, phone=other_phone, text="other's support chat")
    on_sales = receive(alpha, sales, phone=other_phone, text="other's sales chat")
    with in_schema(alpha.schema_name):
        kept = Contact.objects.get(phone=kept_phone)
        other = Contact.objects.get(phone=other_phone)
        note_add(conversation=on_sales.conversation, author=supervisor.user, text="Wants a discount")
    lists = [supervisor.post("/api/v1/contact-lists", {"name": name}).json()["id"] for name in ("A", "B")]
    supervisor.post(f"/api/v1/contact-lists/{lists[0]}/members", {"contact_ids": [kept.pk, other.pk]})
    supervisor.post(f"/api/v1/contact-lists/{lists[1]}/members", {"contact_ids": [other.pk]})

    response = supervisor.post(f"/api/v1/contacts/{kept.pk}/merge", {"other_id": other.pk})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == kept.pk and body["name"] == "Ana" and body["phone"] == kept_phone
    assert body["email"] == "ana@example.com" and body["city"] == "Recife"
    assert body["tags"] == ["vip", "sp"] and body["lead_status"] == "qualified"
    assert body["custom_fields"] == {"plan": "gold", "size": "L"}
    assert supervisor.get(f"/api/v1/contacts/{other.pk}").status_code == 404
    for list_id in lists:
        members = supervisor.get(f"/api/v1/contact-lists/{list_id}/members").json()["items"]
        assert [item["id"] for item in members] == [kept.pk]
    with in_schema(alpha.schema_name):
        gone = Contact.all_objects.get(pk=other.pk)
        assert gone.merged_into_id == kept.pk and gone.deleted_at is not None
        assert not ContactListMember.objects.filter(contact_id=other.pk).exists()
        moved = {c.pk: c for c in Conversation.objects.filter(contact_id=kept.pk)}
        assert on_support.conversation_id in moved and on_sales.conversation_id in moved
        assert not Conversation.objects.filter(contact_id=other.pk).exists()
        # Both had a support chat in progress: the other's was closed so the kept one stays unique.
        assert moved[on_support.conversation_id].status == "closed"
        assert moved[on_support.conversation_id].close_reason == "merged"
        assert Note.objects.get(conversation_id=on_sales.conversation_id).text == "Wants a discount"
        entry = AuditLog.objects.get(action="contact.merged", entity_id=str(kept.pk))
        assert entry.changes["merged_contact_id"] == other.pk
    # The moved conversation is the kept contact's on the API too.
    conversation = supervisor.get(f"/api/v1/conversations/{on_sales.conversation_id}").json()
    assert conversation["contact"]["id"] == kept.pk


@pytest.mark.parametrize("case", ["itself", "deleted", "missing"])
def test_merging_into_itself_a_deleted_or_unknown_contact_is_a_422(supervisor, alpha, in_schema, case):
    kept, other = make_contact(alpha, name="Kept"), make_contact(alpha, name="Other")
    other_id = {"itself": kept.pk, "deleted": other.pk, "missing": 99_999_999}[case]
    if case == "deleted":
        supervisor.delete(f"/api/v1/contacts/{other.pk}")
    response = supervisor.post(f"/api/v1/contacts/{kept.pk}/merge", {"other_id": other_id})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "other_id"
    with in_schema(alpha.schema_name):
        assert Contact.objects.get(pk=kept.pk).name == "Kept"
        assert not Contact.all_objects.filter(merged_into_id=kept.pk).exists()


def test_merging_twice_is_refused_the_second_time(supervisor, alpha):
    kept, other = make_contact(alpha), make_contact(alpha)
    assert supervisor.post(f"/api/v1/contacts/{kept.pk}/merge", {"other_id": other.pk}).status_code == 200
    again = supervisor.post(f"/api/v1/contacts/{kept.pk}/merge", {"other_id": other.pk})
    assert again.status_code == 422
    reverse = supervisor.post(f"/api/v1/contacts/{other.pk}/merge", {"other_id": kept.pk})
    assert reverse.status_code == 404


def test_agents_and_keys_without_contacts_write_cannot_merge(agent, keyed, alpha, in_schema):
    kept, other = make_contact(alpha), make_contact(alpha)
    url = f"/api/v1/contacts/{kept.pk}/merge"
    assert agent.post(url, {"other_id": other.pk}).status_code == 403
    assert keyed("contacts:read").post(url, {"other_id": other.pk}).status_code == 403
    with in_schema(alpha.schema_name):
        assert Contact.objects.filter(pk=other.pk).exists()
    assert keyed("contacts:write").post(url, {"other_id": other.pk}).status_code == 200
