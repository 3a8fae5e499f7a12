"""The realtime frames of conversations and messages read the columns they carry, in one query per
batch: a field left out of the frame's columns would cost a query per row, which this catches."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.conversations import events
from apps.conversations.models import Conversation, Message
from conversa.events import Event
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def event(company, name, **data) -> Event:
    return Event(name=name, schema_name=company.schema_name, data=data)


def reads(build, batch) -> tuple[list, int]:
    """What `build` gives for `batch`, and how many SELECTs it ran (search_path switches aside)."""
    with CaptureQueriesContext(connection) as captured:
        built = build(batch)
    return built, sum(query["sql"].startswith("SELECT") for query in captured.captured_queries)


@pytest.mark.parametrize("count", [3, 1], ids=["a batch", "alone (a prepared read)"])
def test_message_and_conversation_frames_carry_the_whole_rows_in_one_query_each(alpha, count):
    inbox = make_inbox(alpha)
    messages = [receive(alpha, inbox, text=f"Hello {n}") for n in range(count)]
    with schema_context(alpha.schema_name):
        created = [event(alpha, events.MESSAGE_CREATED, message_id=m.pk, conversation_id=m.conversation_id)
                   for m in messages]
        frames, selects = reads(events._message_frames, created)
        assert selects == 1
        for message, (data, audience) in zip(messages, frames, strict=True):
            full = Message.objects.select_related("conversation").get(pk=message.pk)
            assert data == {
                **events.message_data(full),
                "conversation": events.conversation_activity_data(full.conversation),
            }
            assert audience == ["staff"]

        updated = [event(alpha, events.CONVERSATION_UPDATED, conversation_id=m.conversation_id)
                   for m in messages]
        frames, selects = reads(events._conversation_frames, updated)
        assert selects == 1
        for message, [(data, audience)] in zip(messages, frames, strict=True):
            full = Conversation.objects.select_related("contact").get(pk=message.conversation_id)
            assert data == events.conversation_data(full) and audience == ["staff"]

        # An update that only carries a new message has no frame of its own, and reads nothing.
        with_message = event(alpha, events.CONVERSATION_UPDATED, conversation_id=messages[0].conversation_id,
                             **{events.WITH_MESSAGE: True})
        assert reads(events._conversation_frames, [with_message]) == ([None], 0)


def test_a_frame_of_a_row_gone_meanwhile_is_none(alpha):
    with schema_context(alpha.schema_name):
        assert events._message_frames([event(alpha, events.MESSAGE_UPDATED, message_id=10**9)]) == [None]
        assert events._conversation_frames(
            [event(alpha, events.CONVERSATION_UPDATED, conversation_id=10**9)]
        ) == [None]
