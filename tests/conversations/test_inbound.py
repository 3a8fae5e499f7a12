"""Customers' messages land once, in the right conversation, and statuses never go backwards."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.conversations.inbound import message_apply_status
from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_close
from apps.inboxes.providers.base import StatusUpdate
from tests.fixtures.messaging import inbound, make_inbox, new_phone, receive

pytestmark = pytest.mark.django_db


def test_a_first_message_creates_contact_conversation_and_message(alpha, in_schema):
    inbox = make_inbox(alpha)
    phone = new_phone()

    message = receive(alpha, inbox, phone=phone, text="Hi, I need help", name="Marta")

    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.select_related("contact").get(pk=message.conversation_id)
        assert conversation.status == "queued" and conversation.unread_count == 1
        assert conversation.contact.phone == phone and conversation.contact.name == "Marta"
        assert conversation.contact.last_inbound_at is not None
        assert message.direction == "inbound" and message.text == "Hi, I need help"


def test_the_same_provider_message_is_stored_once(alpha, in_schema):
    inbox = make_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone, msg_id="wamid.same")
    again = receive(alpha, inbox, phone=phone, msg_id="wamid.same")

    assert first is not None and again is None
    with in_schema(alpha.schema_name):
        assert Message.objects.filter(provider_message_id="wamid.same").count() == 1
        assert Conversation.objects.get(pk=first.conversation_id).unread_count == 1


def test_following_messages_join_the_conversation_in_progress(alpha, in_schema):
    inbox = make_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone)
    second = receive(alpha, inbox, phone=phone, text="Are you there?")
    assert second.conversation_id == first.conversation_id


def test_a_message_after_a_recent_close_reopens_and_an_old_close_starts_anew(alpha, in_schema):
    inbox = make_inbox(alpha)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone)
    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=first.conversation_id)
        conversation_close(conversation=conversation, actor=None)
    reopened = receive(alpha, inbox, phone=phone, text="one more thing")
    assert reopened.conversation_id == first.conversation_id
    with in_schema(alpha.schema_name):
        assert Conversation.objects.get(pk=first.conversation_id).status == "queued"
        conversation_close(conversation=Conversation.objects.get(pk=first.conversation_id), actor=None)
        Conversation.objects.filter(pk=first.conversation_id).update(
            closed_at=timezone.now() - dt.timedelta(hours=25)
        )
    later = receive(alpha, inbox, phone=phone, text="hello again, weeks later")
    assert later.conversation_id != first.conversation_id


def test_a_reply_quotes_the_message_it_answers(alpha, in_schema):
    inbox = make_inbox(alpha)
    phone = new_phone()
    original = receive(alpha, inbox, phone=phone, msg_id="wamid.original")
    reply = receive(alpha, inbox, phone=phone, reply_to="wamid.original")
    assert reply.reply_to_id == original.pk


def _outbound(alpha, inbox, in_schema) -> Message:
    first = receive(alpha, inbox)
    with in_schema(alpha.schema_name):
        return Message.objects.create(
            conversation_id=first.conversation_id,
            inbox=inbox,
            direction="outbound",
            sender_type="agent",
            text="Hello!",
            status="sent",
            provider_message_id="wamid.out-1",
        )


@pytest.mark.parametrize(
    "order", [["sent", "delivered", "read"], ["read", "delivered", "sent"], ["delivered", "read", "sent"]]
)
def test_statuses_in_any_order_end_at_the_furthest(alpha, in_schema, order):
    inbox = make_inbox(alpha)
    message = _outbound(alpha, inbox, in_schema)
    now = timezone.now()
    with in_schema(alpha.schema_name):
        for status in order:
            message_apply_status(inbox=inbox, update=StatusUpdate("wamid.out-1", status, now))
        message.refresh_from_db()
    assert message.status == "read"
    assert message.sent_at and message.delivered_at and message.read_at


def test_failed_never_overrides_delivered(alpha, in_schema):
    inbox = make_inbox(alpha)
    message = _outbound(alpha, inbox, in_schema)
    with in_schema(alpha.schema_name):
        message_apply_status(inbox=inbox, update=StatusUpdate("wamid.out-1", "delivered", timezone.now()))
        message_apply_status(
            inbox=inbox, update=StatusUpdate("wamid.out-1", "failed", timezone.now(), "131000")
        )
        message.refresh_from_db()
    assert message.status == "delivered"


def test_a_status_of_another_inbox_does_not_touch_the_message(alpha, in_schema):
    inbox, other = make_inbox(alpha), make_inbox(alpha, name="Sales")
    message = _outbound(alpha, inbox, in_schema)
    with in_schema(alpha.schema_name):
        assert (
            message_apply_status(inbox=other, update=StatusUpdate("wamid.out-1", "read", timezone.now()))
            is None
        )
        message.refresh_from_db()
    assert message.status == "sent"


def test_inbound_message_ids_are_unique_per_inbox_not_globally(alpha, in_schema):
    one, two = make_inbox(alpha), make_inbox(alpha, name="Second")
    assert receive(alpha, one, msg_id="wamid.shared") is not None
    assert receive(alpha, two, msg_id="wamid.shared") is not None


def test_the_inbound_value_type_defaults(alpha):
    message = inbound(text="x")
    assert message.kind == "text" and message.from_phone.startswith("+55")
