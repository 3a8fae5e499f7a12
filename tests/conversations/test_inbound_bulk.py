"""A burst stored together ends exactly as the same messages stored one by one."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations.inbound import message_apply_status, message_receive
from apps.conversations.inbound_bulk import messages_receive, statuses_apply
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.services import conversation_close
from apps.inboxes.providers.base import StatusUpdate
from conversa import events
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import inbound, make_inbox, receive

pytestmark = pytest.mark.django_db

KNOWN, CLOSED, NAMELESS, NEW_A, NEW_B = (
    "+5511900000001",
    "+5511900000002",
    "+5511900000003",
    "+5511900000004",
    "+5511900000005",
)


def _history(company, at):
    """Before the burst: a customer with a conversation in progress, one whose conversation was
    closed an hour ago (inside the reopen window), and one known without a name."""
    inbox = make_inbox(company)
    receive(company, inbox, phone=KNOWN, text="earlier", msg_id="wamid.earlier", at=at)
    closed = receive(company, inbox, phone=CLOSED, text="solved?", msg_id="wamid.closed", at=at)
    with schema_context(company.schema_name):
        Contact.objects.create(phone=NAMELESS, name="")
        conversation_close(
            conversation=closed.conversation, actor=make_user(company, role="admin"), reason="done"
        )
    return inbox


def _burst(at) -> list:
    return [
        inbound(phone=KNOWN, text="k1", msg_id="wamid.k1", at=at),
        inbound(phone=NEW_A, text="a1", name="Ana", msg_id="wamid.a1", at=at + dt.timedelta(seconds=1)),
        inbound(phone=CLOSED, text="c1", msg_id="wamid.c1", at=at + dt.timedelta(seconds=2)),
        inbound(
            phone=KNOWN,
            text="k2",
            msg_id="wamid.k2",
            reply_to="wamid.earlier",
            at=at + dt.timedelta(seconds=3),
        ),
        inbound(phone=NEW_A, text="a1", name="Ana", msg_id="wamid.a1"),  # redelivered within the burst
        inbound(phone=KNOWN, text="old", msg_id="wamid.earlier"),  # stored before the burst
        inbound(
            phone=NAMELESS,
            text="n1",
            name="  Nora   Lima ",
            msg_id="wamid.n1",
            at=at + dt.timedelta(seconds=4),
        ),
        inbound(phone=NEW_B, text="b1", name="Bia", msg_id="wamid.b1", at=at + dt.timedelta(seconds=5)),
        inbound(phone=NEW_A, text="a2", name="Ana", msg_id="wamid.a2", at=at + dt.timedelta(seconds=6)),
        # quoting a message of this same burst
        inbound(
            phone=NEW_A, text="a3", msg_id="wamid.a3", reply_to="wamid.a1", at=at + dt.timedelta(seconds=7)
        ),
    ]


def _state(company) -> dict:
    """What agents see, without ids or the times the rows were written."""
    with schema_context(company.schema_name):
        conversations = sorted(
            (c.contact.phone, c.status, c.unread_count, c.last_message_at, c.last_inbound_at)
            for c in Conversation.objects.select_related("contact")
        )
        messages = [
            (
                m.conversation.contact.phone,
                m.conversation.status,
                m.text,
                m.provider_message_id,
                m.reply_to.provider_message_id if m.reply_to else None,
            )
            for m in Message.objects.select_related("conversation__contact", "reply_to").order_by("pk")
        ]
        contacts = sorted(
            (c.phone, c.name, c.last_inbound_at, c.last_contact_at) for c in Contact.objects.all()
        )
        timeline = sorted((t.conversation.contact.phone, t.kind) for t in TimelineEvent.objects.all())
    return {"conversations": conversations, "messages": messages, "contacts": contacts, "timeline": timeline}


@pytest.fixture
def published():
    seen = []
    events.subscribe_batch(seen.extend)
    yield seen
    events._batch_subscribers.remove(seen.extend)


def test_a_burst_stored_together_ends_as_one_by_one(
    alpha, bravo, published, django_capture_on_commit_callbacks
):
    at = timezone.now() - dt.timedelta(minutes=2)
    one_by_one, together = _history(alpha, at), _history(bravo, at)
    at += dt.timedelta(minutes=1)
    before = len(published)

    with django_capture_on_commit_callbacks(execute=True):
        with schema_context(alpha.schema_name):
            for message in _burst(at):
                message_receive(inbox=one_by_one, inbound=message)
    with django_capture_on_commit_callbacks(execute=True):
        with schema_context(bravo.schema_name):
            stored = messages_receive([(together, message) for message in _burst(at)])

    assert [m.text for m in stored] == ["k1", "a1", "c1", "k2", "n1", "b1", "a2", "a3"]
    expected, got = _state(alpha), _state(bravo)
    assert got == expected
    assert ("+5511900000002", "reopened_by_contact") in got["timeline"]
    assert ("+5511900000004", "queued", "a3", "wamid.a3", "wamid.a1") in got["messages"]
    assert ("+5511900000003", "Nora Lima") in {(phone, name) for phone, name, *_ in got["contacts"]}
    # Every event once, in an order the clients can follow: the contact and conversation first.
    mine = [event for event in published[before:] if event.schema_name == bravo.schema_name]
    names = [event.name for event in mine]
    assert names.count("message.created") == 8
    assert names.count("contact.created") == 2 and names.count("conversation.created") == 3
    assert names.count("conversation.status_changed") == 1
    assert names.count("conversation.updated") == 2  # one per existing conversation, not per message
    conversation_of = {message.pk: message.conversation_id for message in stored}
    announced = set()
    for event in mine:
        if event.name.startswith("conversation."):
            announced.add(event.data["conversation_id"])
        elif event.name == "message.created":
            assert conversation_of[event.data["message_id"]] in announced


def test_a_batch_costs_the_same_queries_for_5_or_50_messages(alpha, django_assert_max_num_queries):
    inbox = make_inbox(alpha)

    def burst(size: int, run: str) -> list:
        known = [inbound(phone=f"+55119100{i:05d}", text=f"{run}{i}") for i in range(size // 2)]
        new = [
            inbound(phone=f"+55119200{int(run == 'big')}{i:04d}", text=f"{run}n{i}")
            for i in range(size - size // 2)
        ]
        return [(inbox, message) for message in known + new]

    with schema_context(alpha.schema_name):
        messages_receive(burst(50, "warm"))  # half the big run's customers are known from here on
        messages_receive(burst(6, "warm-small"))
        # dedupe; contacts lock and insert; conversations lock, closed check, insert; messages
        # insert; conversation and contact updates; nothing more for ten times the messages.
        with django_assert_max_num_queries(9):
            assert len(messages_receive(burst(5, "small"))) == 5
        with django_assert_max_num_queries(9):
            assert len(messages_receive(burst(50, "big"))) == 50


def _outbound_messages(company) -> tuple:
    """Four replies of an agent, sent; the last one's send response was lost (no provider id)."""
    inbox, other = make_inbox(company), make_inbox(company, name="Sales")
    first = receive(company, inbox, phone=KNOWN, text="hi")
    with schema_context(company.schema_name):
        for n in range(4):
            Message.objects.create(
                conversation_id=first.conversation_id,
                inbox=inbox,
                direction="outbound",
                sender_type="agent",
                text=f"reply {n}",
                status="sending" if n == 3 else "sent",
                provider_message_id="" if n == 3 else f"wamid.out-{n}",
            )
        lost = Message.objects.get(text="reply 3")
    return inbox, other, str(lost.send_key)


def _receipts(inbox, other, lost_key: str, at) -> list:
    def update(provider_id, status, seconds, error=""):
        return StatusUpdate(provider_id, status, at + dt.timedelta(seconds=seconds), error_code=error)

    return [
        (inbox, update("wamid.out-0", "read", 3), ""),  # in reverse order
        (inbox, update("wamid.out-0", "delivered", 2), ""),
        (inbox, update("wamid.out-0", "sent", 1), ""),
        (inbox, update("wamid.out-1", "delivered", 2), ""),
        (inbox, update("wamid.out-1", "failed", 4, "131000"), ""),  # never overrides delivered
        (inbox, update("wamid.out-2", "failed", 4, "131026"), ""),
        (other, update("wamid.out-2", "read", 5), ""),  # another inbox's: touches nothing
        (inbox, update("wamid.unknown", "read", 5), ""),
        (inbox, update("wamid.out-3", "sent", 1), lost_key),  # found by our key, learns its id
        (inbox, update("wamid.out-3", "delivered", 2), ""),  # then found by that id
        (inbox, update("", "read", 3), "not-a-uuid"),
    ]


def _outbound_state(company) -> list:
    with schema_context(company.schema_name):
        return list(
            Message.objects.filter(direction="outbound")
            .order_by("text")
            .values_list(
                "text",
                "status",
                "provider_message_id",
                "sent_at",
                "delivered_at",
                "read_at",
                "failed_at",
                "error_code",
            )
        )


def test_receipts_applied_together_end_as_one_by_one(
    alpha, bravo, published, django_capture_on_commit_callbacks
):
    at = timezone.now() - dt.timedelta(minutes=1)
    (inbox_a, other_a, key_a), (inbox_b, other_b, key_b) = (
        _outbound_messages(alpha),
        _outbound_messages(bravo),
    )
    before = len(published)

    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        for inbox, update, send_key in _receipts(inbox_a, other_a, key_a, at):
            message_apply_status(inbox=inbox, update=update, send_key=send_key)
    with django_capture_on_commit_callbacks(execute=True), schema_context(bravo.schema_name):
        assert statuses_apply(_receipts(inbox_b, other_b, key_b, at)) == 4

    assert _outbound_state(bravo) == _outbound_state(alpha)
    assert [row[1:3] for row in _outbound_state(bravo)] == [
        ("read", "wamid.out-0"),
        ("delivered", "wamid.out-1"),
        ("failed", "wamid.out-2"),
        ("delivered", "wamid.out-3"),
    ]
    # (a receipt for an id no message has goes on to campaigns as `message.statuses_unmatched`)
    updated = [e for e in published[before:]
               if e.schema_name == bravo.schema_name and e.name != "message.statuses_unmatched"]
    assert [e.name for e in updated] == ["message.updated"] * 4  # once per message, not per receipt
