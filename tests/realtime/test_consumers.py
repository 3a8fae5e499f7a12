"""The consumer's handling of channel-layer frames, without a server."""

import asyncio
import json

from conversa.realtime.consumers import RealtimeConsumer
from conversa.realtime.fanout import event_message, frame_messages


def consumer_sending_to(sent: list) -> RealtimeConsumer:
    consumer = RealtimeConsumer()
    consumer.channel_name = "specific.me"

    async def base_send(message):
        sent.append(message)

    consumer.base_send = base_send
    return consumer


def test_a_layer_frame_is_written_as_serialised_without_a_hop_to_the_database_thread(monkeypatch):
    async def no_database(*args, **kwargs):
        raise AssertionError("a relayed frame must not cost a hop to the sync thread")

    # Channels closes stale database connections on the sync thread before every handler.
    monkeypatch.setattr("channels.consumer.aclose_old_connections", no_database)
    sent = []
    consumer = consumer_sending_to(sent)
    message = event_message("message.created", {"id": 1, "text": "olá"})

    asyncio.run(consumer.dispatch(message))

    assert sent == [{"type": "websocket.send", "text": message["text"]}]


def test_frames_sent_together_are_written_one_by_one_in_their_order():
    sent = []
    consumer = consumer_sending_to(sent)
    texts = [event_message("message.created", {"id": n})["text"] for n in range(250)]

    for message in frame_messages(texts):
        asyncio.run(consumer.dispatch(message))

    assert len(frame_messages(texts)) == 3
    assert [json.loads(m["text"])["data"]["id"] for m in sent] == list(range(250))


def test_a_frame_excluding_this_socket_is_not_written():
    sent = []
    consumer = consumer_sending_to(sent)

    asyncio.run(consumer.dispatch(event_message("typing.started", {"user_id": 1}, exclude="specific.me")))
    asyncio.run(consumer.dispatch(event_message("typing.started", {"user_id": 2}, exclude="specific.other")))

    assert [json.loads(m["text"])["data"] for m in sent] == [{"user_id": 2}]


def test_a_frame_from_a_process_of_the_previous_release_is_still_relayed():
    sent = []
    consumer = consumer_sending_to(sent)

    asyncio.run(consumer.dispatch({"type": "realtime.event", "event": "contact.updated", "data": {"id": 4}}))

    assert [json.loads(m["text"]) for m in sent] == [{"type": "contact.updated", "data": {"id": 4}}]


def test_a_socket_that_may_have_missed_frames_is_closed_to_reconnect():
    sent = []
    consumer = consumer_sending_to(sent)

    asyncio.run(consumer.dispatch({"type": "realtime.resync"}))

    assert sent == [{"type": "websocket.close", "code": 1012}]
