"""The channel layer (Redis pub/sub with bounded socket queues) against the real Redis."""

import asyncio
import uuid

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from conversa.realtime.fanout import event_message
from conversa.realtime.groups import staff_group, user_group
from conversa.realtime.layers import RealtimeChannelLayer

# redis-py sends SUBSCRIBE without waiting for Redis to confirm it: a publish on another
# connection right after could overtake it. A socket's `ready` frame and the client's next request
# give it far longer than this in real use.
SUBSCRIBED = 0.1


def new_layer(prefix: str = "", capacity: int = 100) -> RealtimeChannelLayer:
    return RealtimeChannelLayer(hosts=[{"address": settings.REDIS_URL, "socket_timeout": None}],
                                prefix=prefix or f"conversa-test-layer-{uuid.uuid4().hex[:8]}",
                                capacity=capacity)


async def pending(layer, channel: str, timeout: float = 0.3) -> list[dict]:
    """Every message waiting for `channel` (until none comes within `timeout`)."""
    messages = []
    try:
        while True:
            messages.append(await asyncio.wait_for(layer.receive(channel), timeout))
    except TimeoutError:
        return messages


def test_the_configured_layer_is_the_bounded_pubsub_layer():
    layer = get_channel_layer()
    assert isinstance(layer, RealtimeChannelLayer)
    assert layer.capacity == 1000


def test_a_group_message_reaches_only_the_sockets_of_that_schemas_group():
    prefix = f"conversa-test-layer-{uuid.uuid4().hex[:8]}"
    layer = new_layer(prefix)

    async def scenario():
        alpha_agent, bravo_agent, alpha_other = [await layer.new_channel() for _ in range(3)]
        await layer.group_add(staff_group("alpha"), alpha_agent)
        await layer.group_add(staff_group("bravo"), bravo_agent)
        await layer.group_add(user_group("alpha", 7), alpha_other)
        await asyncio.sleep(SUBSCRIBED)

        # Published by another process (the worker): a layer of its own, another connection.
        sender = new_layer(prefix)
        await sender.group_send(staff_group("alpha"), event_message("message.created", {"id": 1}))
        await sender.flush()
        received = [await pending(layer, c) for c in (alpha_agent, bravo_agent, alpha_other)]
        await layer.flush()
        return received

    alpha_agent, bravo_agent, alpha_other = asyncio.run(scenario())
    assert [m["text"] for m in alpha_agent] == ['{"type":"message.created","data":{"id":1}}']
    assert bravo_agent == [] and alpha_other == []


def test_a_socket_that_left_a_group_no_longer_hears_it():
    layer = new_layer()

    async def scenario():
        staying, leaving = await layer.new_channel(), await layer.new_channel()
        for channel in (staying, leaving):
            await layer.group_add(staff_group("alpha"), channel)
        await layer.group_discard(staff_group("alpha"), leaving)
        await asyncio.sleep(SUBSCRIBED)
        await layer.group_send(staff_group("alpha"), event_message("presence.updated", {"user_id": 3}))
        received = await pending(layer, staying), await pending(layer, leaving)
        await layer.flush()
        return received

    staying, leaving = asyncio.run(scenario())
    assert len(staying) == 1 and leaving == []


def test_a_socket_that_stops_reading_keeps_only_its_newest_frames():
    layer = new_layer(capacity=3)

    async def scenario():
        slow = await layer.new_channel()
        await layer.group_add(staff_group("alpha"), slow)
        await asyncio.sleep(SUBSCRIBED)
        for n in range(5):
            await layer.group_send(staff_group("alpha"), event_message("message.created", {"id": n}))
        await asyncio.sleep(SUBSCRIBED)  # delivered to the socket's queue, which nobody reads
        received = await pending(layer, slow)
        await layer.flush()
        return received

    received = asyncio.run(scenario())
    assert [m["text"] for m in received] == [
        f'{{"type":"message.created","data":{{"id":{n}}}}}' for n in (2, 3, 4)
    ]


@pytest.mark.parametrize("exclude", [None, "specific.sender"])
def test_an_event_message_carries_its_frame_serialised_once(exclude):
    message = event_message("typing.started", {"conversation_id": 5, "name": "Ana"}, exclude=exclude)
    assert message["type"] == "realtime.event"
    assert message["text"] == '{"type":"typing.started","data":{"conversation_id":5,"name":"Ana"}}'
    assert message.get("exclude") == exclude


def test_messages_sent_together_reach_each_group_in_their_order_and_no_other():
    prefix = f"conversa-test-layer-{uuid.uuid4().hex[:8]}"
    layer = new_layer(prefix)

    async def scenario():
        staff, agent = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(staff_group("alpha"), staff)
        await layer.group_add(user_group("alpha", 7), agent)
        await asyncio.sleep(SUBSCRIBED)
        sender = new_layer(prefix)
        await sender.group_send_many([
            (staff_group("alpha"), event_message("message.created", {"id": 1})),
            (user_group("alpha", 7), event_message("message.created", {"id": 2})),
            (staff_group("alpha"), event_message("message.created", {"id": 3})),
            (staff_group("bravo"), event_message("message.created", {"id": 4})),
        ])
        await sender.flush()
        received = await pending(layer, staff), await pending(layer, agent)
        await layer.flush()
        return received

    staff, agent = asyncio.run(scenario())
    assert [m["text"] for m in staff] == [
        '{"type":"message.created","data":{"id":1}}', '{"type":"message.created","data":{"id":3}}'
    ]
    assert [m["text"] for m in agent] == ['{"type":"message.created","data":{"id":2}}']


def test_when_the_subscription_connection_comes_back_every_socket_is_asked_to_reconnect():
    """Frames published while it was down are lost: its sockets must reconnect and catch up."""
    import redis

    from conversa.realtime.layers import RESYNC

    layer = new_layer()

    async def scenario():
        socket = await layer.new_channel()
        await layer.group_add(staff_group("alpha"), socket)
        await asyncio.sleep(SUBSCRIBED)
        assert await pending(layer, socket) == []
        [shard] = layer._get_layer()._shards
        host, port = shard._pubsub.connection._writer.get_extra_info("sockname")[:2]
        redis.Redis.from_url(settings.REDIS_URL).client_kill_filter(_type="pubsub", addr=f"{host}:{port}")
        told = await asyncio.wait_for(layer.receive(socket), 10)
        await asyncio.sleep(SUBSCRIBED)
        await layer.group_send(staff_group("alpha"), event_message("message.created", {"id": 9}))
        after = await pending(layer, socket, timeout=3)
        await layer.flush()
        return told, after

    told, after = asyncio.run(scenario())
    assert told == RESYNC
    assert [m["text"] for m in after] == ['{"type":"message.created","data":{"id":9}}']  # subscribed again


def test_a_group_message_is_decoded_once_for_all_the_sockets_of_a_process():
    layer = new_layer()
    decoded = []

    def counting_deserialize(data):
        decoded.append(data)
        return layer._serializer.deserialize(data)

    layer.deserialize = counting_deserialize

    async def scenario():
        sockets = [await layer.new_channel() for _ in range(3)]
        for socket in sockets:
            await layer.group_add(staff_group("alpha"), socket)
        await asyncio.sleep(SUBSCRIBED)
        await layer.group_send(staff_group("alpha"), event_message("message.created", {"id": 5}))
        received = [await pending(layer, socket) for socket in sockets]
        await layer.flush()
        return received

    received = asyncio.run(scenario())
    assert [[m["text"] for m in messages] for messages in received] == [
        ['{"type":"message.created","data":{"id":5}}']] * 3
    assert len(decoded) == 1
