"""The realtime subscriber of the event bus: re-reads the rows and pushes frames to groups.

Apps register one payload builder per event name. The builder runs after commit inside the
event's schema and returns the frame data plus the groups allowed to see it (or a list of such
pairs, when different audiences may see different data), or None when the row is gone. Builders
live in each app's `events.py`. Events that come in bulk (a webhook drain commits hundreds) get a
builder of lists, `realtime_payloads`, which reads all their rows in one query.
"""

import asyncio
import itertools
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable

from channels.layers import get_channel_layer
from django.db import connection
from django_tenants.utils import schema_context

from conversa.events import Event, subscribe_batch
from conversa.realtime.groups import company_group, group_name, user_group

logger = logging.getLogger("conversa.realtime")

Frame = tuple[dict, Iterable[str]]
Built = Frame | list[Frame] | None
Builder = Callable[[Event], Built]
BatchBuilder = Callable[[list[Event]], list[Built]]
_builders: dict[str, BatchBuilder] = {}


def realtime_payload(event_name: str):
    """Register the function building the frame of one `event_name` event."""

    def register(builder: Builder) -> Builder:
        _builders[event_name] = lambda events: [builder(event) for event in events]
        return builder

    return register


def realtime_payloads(event_name: str):
    """Register a function building the frames of many `event_name` events at once: it returns
    one result per event, in their order."""

    def register(builder: BatchBuilder) -> BatchBuilder:
        _builders[event_name] = builder
        return builder

    return register


SEND_TIMEOUT_SECONDS = 10


class _SenderLoop:
    """One event loop per process, on a daemon thread, for every group send from sync code.

    `async_to_sync` outside an ASGI server (the Huey worker) starts a new event loop per call, and
    channels-redis keeps its Redis connections per loop: every frame paid for a loop, a thread hop
    and a new Redis connection. A long-lived loop keeps one warm connection pool per process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="realtime-sender", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coroutine) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        future.result(SEND_TIMEOUT_SECONDS)


_sender = _SenderLoop()


def send_to_groups(groups: Iterable[str], message: dict) -> None:
    send_messages([(group, message) for group in groups])


def send_messages(messages: list[tuple[str, dict]]) -> None:
    """Send (group, message) pairs in this order, pipelined where the layer can."""
    layer = get_channel_layer()

    async def send_all():
        if hasattr(layer, "group_send_many"):
            await layer.group_send_many(messages)
            return
        for group, message in messages:
            await layer.group_send(group, message)

    _sender.run(send_all())


def event_message(event_name: str, data: dict, *, exclude: str | None = None) -> dict:
    """The channel-layer message of one frame, serialised here once rather than once per socket.

    `exclude` names a channel (the sender's) that must not receive it.
    """
    frame = json.dumps({"type": event_name, "data": data}, separators=(",", ":"))
    message = {"type": "realtime.event", "text": frame}
    if exclude:
        message["exclude"] = exclude
    return message


@subscribe_batch(awaited=True)
def push_realtime(events: list[Event]) -> None:
    """Build every event's frames, one builder call per schema and event name, then send them in
    the events' order. A failing builder loses its own frames only."""
    batches: dict[tuple[str, str], list[int]] = {}
    for index, event in enumerate(events):
        if event.name in _builders:
            batches.setdefault((event.schema_name, event.name), []).append(index)
    built: list[Built] = [None] * len(events)
    for (schema_name, name), indexes in batches.items():
        try:
            results = _build(schema_name, _builders[name], [events[index] for index in indexes])
        except Exception:
            logger.exception("realtime frames of %d %s events failed", len(indexes), name)
            continue
        for index, result in zip(indexes, results, strict=True):
            built[index] = result
    frames: dict[str, list[tuple[str, str]]] = {}
    for event, result in zip(events, built, strict=True):
        for data, audience in result if isinstance(result, list) else [result] if result else []:
            text = event_message(event.name, data)["text"]
            groups = sorted({group_name(event.schema_name, suffix) for suffix in audience})
            # A socket in two of these groups (an admin who started an import is in `admins` and
            # in `user.N`) gets the frame once: the consumer skips an id it has just delivered.
            frame_id = _next_frame_id() if len(groups) > 1 else ""
            for group in groups:
                frames.setdefault(group, []).append((frame_id, text))
    if frames:
        send_messages([
            (group, message) for group, items in frames.items()
            for message in frame_messages([text for _, text in items], ids=[i for i, _ in items])
        ])


_FRAME_ID_PREFIX = secrets.token_hex(4)
_frame_counter = itertools.count()


def _next_frame_id() -> str:
    return f"{_FRAME_ID_PREFIX}{next(_frame_counter):x}"


# Frames per channel-layer message: a drain's batch reaches a socket in a few messages, each sent
# on as separate websocket frames, instead of a few hundred messages through Redis and the queues.
FRAMES_PER_MESSAGE = 100


def frame_messages(texts: list[str], ids: list[str] | None = None) -> list[dict]:
    """Channel-layer messages carrying these serialised frames, in order; `ids` ("" for none) let a
    socket that is in several of the groups skip the copies."""
    ids = ids if ids and any(ids) else None
    if len(texts) == 1:
        message = {"type": "realtime.event", "text": texts[0]}
        if ids:
            message["id"] = ids[0]
        return [message]
    messages = []
    for start in range(0, len(texts), FRAMES_PER_MESSAGE):
        message = {"type": "realtime.events", "texts": texts[start:start + FRAMES_PER_MESSAGE]}
        if ids:
            message["ids"] = ids[start:start + FRAMES_PER_MESSAGE]
        messages.append(message)
    return messages


def _build(schema_name: str, builder: BatchBuilder, events: list[Event]) -> list[Built]:
    if connection.schema_name == schema_name:
        # Entering the same schema again would still cost a SET search_path before the query and
        # another after it (django-tenants forgets the path on every switch).
        return builder(events)
    with schema_context(schema_name):
        return builder(events)


def close_user_sockets(schema_name: str, user_id: int, *, code: int) -> None:
    """Ask every socket of one user to close with `code`: their access changed (a new role joins
    other groups on reconnect; a deactivated user cannot sign in again)."""
    send_to_groups([user_group(schema_name, user_id)], {"type": "company.close", "code": code})


def close_company_sockets(schema_name: str, *, code: int) -> None:
    """Ask every socket of the company to close with `code` (e.g. 4402 when suspended)."""
    send_to_groups([company_group(schema_name)], {"type": "company.close", "code": code})
