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



def test_a_frame_reaching_a_socket_through_two_of_its_groups_is_written_once():
    sent = []
    consumer = consumer_sending_to(sent)
    first, second, lone = (event_message("import.progress", {"id": n})["text"] for n in range(3))
    # A socket in `admins` and in `user.N` gets the copies push_realtime sends to each group (the same
    # ids); a frame meant for one group only carries no id and is never taken for a copy.
    through_admins = frame_messages([first, second], ids=["f1", "f2"])
    through_user = frame_messages([first], ids=["f1"]) + frame_messages([second, lone], ids=["f2", ""])
    for message in [*through_admins, *through_user, *frame_messages([lone], ids=[""])]:
        asyncio.run(consumer.dispatch(message))

    assert [json.loads(m["text"])["data"]["id"] for m in sent] == [0, 1, 2, 2]


def test_the_fan_out_gives_a_frame_for_several_groups_one_id_in_all_of_them(monkeypatch):
    from conversa import events
    from conversa.realtime import fanout

    monkeypatch.setitem(fanout._builders, "test.shared", lambda evs: [({"n": 1}, ["admins", "user.7"])
                                                                       for _ in evs])
    monkeypatch.setitem(fanout._builders, "test.single", lambda evs: [({"n": 2}, ["user.7"]) for _ in evs])
    sent = []
    monkeypatch.setattr(fanout, "send_messages", sent.extend)
    monkeypatch.setattr(fanout, "_build", lambda schema, builder, evs: builder(evs))

    fanout.push_realtime([events.Event("test.shared", "alpha"), events.Event("test.single", "alpha")])

    ids = {group: message.get("ids") or [message.get("id", "")] for group, message in sent}
    assert ids["alpha.admins"][0] == ids["alpha.user.7"][0] != ""
    assert ids["alpha.user.7"][1] == ""


def test_frames_from_the_layer_reach_the_socket_in_order_without_a_task_per_frame():
    """Channels' own loop made a task (and an `asyncio.wait`) per message for every socket: most of
    the server's CPU in a 500-socket fan-out. The consumer keeps one task per source instead."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    texts = [event_message("message.created", {"id": n})["text"] for n in range(60)]

    async def scenario():
        loop = asyncio.get_running_loop()
        created = []

        def counting_factory(loop, coro, **kwargs):
            created.append(coro)
            return asyncio.Task(coro, loop=loop, **kwargs)

        sent, client = [], asyncio.Queue()  # the client says nothing
        consumer = RealtimeConsumer()

        async def send(message):
            sent.append(message)

        running = asyncio.ensure_future(consumer({"type": "websocket"}, client.get, send))
        while not getattr(consumer, "channel_name", None):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        loop.set_task_factory(counting_factory)
        for text in texts:
            await layer.send(consumer.channel_name, {"type": "realtime.event", "text": text})
        for _ in range(300):
            if len(sent) == len(texts):
                break
            await asyncio.sleep(0.01)
        loop.set_task_factory(None)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        return sent, len(created)

    sent, tasks_created = asyncio.run(scenario())
    assert [m["text"] for m in sent] == texts
    assert tasks_created < 5
