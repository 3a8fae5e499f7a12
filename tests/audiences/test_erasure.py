"""`POST /api/v1/contacts/{id}/erase`: GDPR erasure leaves no personal data in the company's rows
or storage, and keeps the conversations for reports."""

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from apps.audit.models import AuditLog
from apps.contacts.models import Contact, ContactListMember
from apps.conversations.models import Conversation, Message
from apps.conversations.services import note_add
from apps.flows.models import FlowSession
from apps.flows.services import flow_create, flow_publish
from apps.inboxes.models import WebhookEvent
from apps.media.services import media_receive_inbound
from apps.notifications.services import notify
from apps.webhooks.models import Delivery, Endpoint
from tests.fixtures.contacts import make_contact, make_custom_field, unique_phone
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db

NAME, EMAIL = "Zelda Quintessa", "zelda.q@private.example"
SECRET_TEXT, NOTE_TEXT = "my passport is XK-99120", "Zelda owes 300"
CITY, CUSTOM_VALUE, TAG = "Xiquexique", "loyalty-orchid", "orchid-club"


def rows_mentioning(schema: str, needle: str) -> list[str]:
    """Every table.column of the schema whose rows hold `needle` (text, JSON, arrays or bytes)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s", [schema],
        )
        for table, column, data_type in cursor.fetchall():
            if data_type == "bytea":
                condition, param = f'position(%s::bytea IN "{column}") > 0', needle.encode()
            else:
                condition, param = f'"{column}"::text ILIKE %s', f"%{needle}%"
            cursor.execute(f'SELECT 1 FROM "{schema}"."{table}" WHERE {condition} LIMIT 1', [param])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def zelda(alpha, admin, in_schema):
    """A contact with personal data everywhere: fields, lists, messages, a note, a file, a
    notification, a stored provider webhook; and a merged-in duplicate of hers."""
    make_custom_field(alpha, key="club")
    phone, old_phone = unique_phone(), unique_phone()
    inbox = make_inbox(alpha)
    contact = make_contact(alpha, phone=phone, name=NAME, email=EMAIL, city=CITY, tags=[TAG],
                           custom_fields={"club": CUSTOM_VALUE}, notes="Prefers mornings")
    message = receive(alpha, inbox, phone=phone, text=SECRET_TEXT, name=NAME)
    duplicate = make_contact(alpha, phone=old_phone, name=NAME + " (old)")
    receive(alpha, inbox, phone=old_phone, text=SECRET_TEXT + " again")
    with in_schema(alpha.schema_name):
        note_add(conversation=message.conversation, author=admin.user, text=NOTE_TEXT)
        media = media_receive_inbound(data=b"Zelda's scanned ID\n" * 20, declared_type="text/plain",
                                      filename="zelda-id.txt")
        Message.objects.filter(pk=message.pk).update(media=media)
        notify(users=[admin.user], kind="transfer", title=f"Conversation with {NAME} transferred to you",
               data={"conversation_id": message.conversation_id})
        WebhookEvent.objects.create(inbox=inbox, status="processed",
                                    body=f'{{"from": "{phone[1:]}", "text": "{SECRET_TEXT}"}}'.encode())
        # Copies made by the second wave: a webhook delivery of her message and contact (one sent,
        # one waiting) and a bot session that asked for her email.
        endpoint = Endpoint.objects.create(url="https://receiver.example/hook", secret_encrypted="x",
                                           events=["message.created", "contact.updated"])
        message_data = {"id": message.pk, "conversation_id": message.conversation_id, "text": SECRET_TEXT}
        Delivery.objects.create(endpoint=endpoint, event="message.created", status="succeeded",
                                payload={"event": "message.created", "data": message_data},
                                request_excerpt=SECRET_TEXT)
        contact_data = {"id": contact.pk, "name": NAME}
        Delivery.objects.create(endpoint=endpoint, event="contact.updated",
                                payload={"event": "contact.updated", "data": contact_data})
        flow = flow_create(actor=None, name="Sign-up bot", trigger={"type": "manual"},
                           graph={"start": "bye", "nodes": {"bye": {"type": "end", "text": "Bye"}}})
        flow_publish(actor=None, flow=flow)
        flow.refresh_from_db()
        FlowSession.objects.create(flow=flow, version=flow.published_version, status="completed",
                                   conversation_id=message.conversation_id, variables={"email": EMAIL})
    listed = admin.post("/api/v1/contact-lists", {"name": "Club"}).json()
    admin.post(f"/api/v1/contact-lists/{listed['id']}/members", {"contact_ids": [contact.pk]})
    assert admin.post(f"/api/v1/contacts/{contact.pk}/merge", {"other_id": duplicate.pk}).status_code == 200
    return {"contact": contact, "phone": phone, "old_phone": old_phone, "media": media,
            "conversation_id": message.conversation_id, "list_id": listed["id"]}


def test_erasure_leaves_no_personal_data_in_any_row_or_file(
    admin, alpha, zelda, in_schema, django_capture_on_commit_callbacks,
):
    contact = zelda["contact"]
    with in_schema(alpha.schema_name):
        storage_name = type(zelda["media"]).objects.get(pk=zelda["media"].pk).storage_name
    assert storage_name and default_storage.exists(storage_name)
    needles = (NAME, "Zelda", EMAIL, zelda["phone"][1:], zelda["old_phone"][1:], SECRET_TEXT, NOTE_TEXT,
               CITY, CUSTOM_VALUE, TAG, "zelda-id", "Prefers mornings")
    with in_schema(alpha.schema_name):
        assert all(rows_mentioning(alpha.schema_name, needle) for needle in needles)  # the search finds them
        assert "inboxes_webhookevent.body" in rows_mentioning(alpha.schema_name, zelda["phone"][1:])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/api/v1/contacts/{contact.pk}/erase")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Erased contact" and body["email"] == "" and body["tags"] == []
    assert body["custom_fields"] == {} and body["city"] == "" and body["notes"] == ""
    assert body["phone"].startswith("+000")
    assert not default_storage.exists(storage_name)
    with in_schema(alpha.schema_name):
        for needle in needles:
            assert rows_mentioning(alpha.schema_name, needle) == [], needle
        erased = Contact.all_objects.get(pk=contact.pk)
        assert erased.erased_at is not None and erased.deleted_at is not None
        assert not ContactListMember.objects.filter(contact_id=contact.pk).exists()
        # The conversations stay for reports, anonymised.
        conversations = Conversation.objects.filter(contact_id=contact.pk)
        assert conversations.count() == 2
        assert set(Message.objects.filter(conversation__in=conversations).values_list("text", flat=True)) == {
            "[erased]"
        }
        media = type(zelda["media"]).objects.get(pk=zelda["media"].pk)
        assert media.status == "rejected" and media.storage_name == "" and media.filename == ""
        entry = AuditLog.objects.get(action="contact.erased")
        assert entry.changes["messages"] == 2 and entry.changes["media_files"] == 1
    assert admin.get(f"/api/v1/contacts/{contact.pk}").status_code == 404
    assert admin.get(f"/api/v1/contact-lists/{zelda['list_id']}").json()["member_count"] == 0


def test_erasing_twice_changes_nothing_the_second_time(admin, alpha, in_schema):
    contact = make_contact(alpha, name="Twice")
    first = admin.post(f"/api/v1/contacts/{contact.pk}/erase")
    second = admin.post(f"/api/v1/contacts/{contact.pk}/erase")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    with in_schema(alpha.schema_name):
        assert AuditLog.objects.filter(action="contact.erased", entity_id=str(contact.pk)).count() == 1
    assert admin.post("/api/v1/contacts/99999999/erase").status_code == 404


def test_only_admins_erase_and_never_with_an_api_key(supervisor, agent, keyed, alpha, in_schema):
    contact = make_contact(alpha, name="Keep me")
    url = f"/api/v1/contacts/{contact.pk}/erase"
    for client in (supervisor, agent, keyed("contacts:write", "contacts:read")):
        assert client.post(url).status_code == 403
    with in_schema(alpha.schema_name):
        assert Contact.objects.get(pk=contact.pk).name == "Keep me"
