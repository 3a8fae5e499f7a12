"""A new message reaches each socket as one frame that carries its conversation's row."""

import json

import pytest
from django_tenants.utils import schema_context

from apps.conversations.inbound_bulk import messages_receive
from apps.conversations.models import Conversation
from apps.conversations.outbound import message_send
from apps.conversations.services import conversation_set_labels
from conversa.realtime import fanout
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import inbound, make_inbox, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def frames(monkeypatch):
    """(group, frame) pairs the fan-out sends, decoded."""
    sent: list[tuple[str, dict]] = []

    def capture(messages):
        for group, message in messages:
            for text in message.get("texts") or [message["text"]]:
                sent.append((group, json.loads(text)))

    monkeypatch.setattr(fanout, "send_messages", capture)
    return sent


def types_sent(frames) -> list[str]:
    return [frame["type"] for _, frame in frames]


def test_a_customers_next_message_is_one_frame_per_group_with_the_conversations_row(
    alpha, frames, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)
    first = receive(alpha, inbox, phone="+5511955550001", text="hi")
    with django_capture_on_commit_callbacks(execute=True):
        second = receive(alpha, inbox, phone="+5511955550001", text="are you there?")

    assert "conversation.updated" not in types_sent(frames)
    created = [(group, frame["data"]) for group, frame in frames if frame["type"] == "message.created"]
    groups = [group for group, _ in created]
    assert groups and len(groups) == len(set(groups))  # once per group
    for _, data in created:
        assert data["id"] == second.pk and data["text"] == "are you there?"
        assert data["conversation"]["id"] == first.conversation_id
        assert data["conversation"]["unread_count"] == 2
        assert data["conversation"]["status"] == "queued"


def test_a_burst_carries_each_conversations_row_in_every_message_frame(
    alpha, frames, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)
    receive(alpha, inbox, phone="+5511955550002", text="before")
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        messages_receive([(inbox, inbound(phone="+5511955550002", text=f"burst {i}")) for i in range(3)])
        conversation = Conversation.objects.get(contact__phone="+5511955550002")

    assert "conversation.updated" not in types_sent(frames)
    rows = [frame["data"]["conversation"] for _, frame in frames if frame["type"] == "message.created"]
    assert rows and {row["id"] for row in rows} == {conversation.pk}
    assert {row["unread_count"] for row in rows} == {4}


def test_an_agents_reply_is_one_frame_and_other_changes_keep_their_conversation_frames(
    alpha, frames, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)
    customer = receive(alpha, inbox, phone="+5511955550003", text="hello")
    admin = make_user(alpha, role="admin")
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=customer.conversation_id)
        message_send(conversation=conversation, author=admin, text="Hi, how can I help?")
    replies = [frame["data"] for _, frame in frames if frame["type"] == "message.created"]
    assert replies and all(data["conversation"]["id"] == conversation.pk for data in replies)
    assert "conversation.updated" not in types_sent(frames)

    frames.clear()
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        conversation_set_labels(conversation=conversation, add=["vip"], actor=admin)
    assert "conversation.updated" in types_sent(frames)
    assert "message.created" not in types_sent(frames)
