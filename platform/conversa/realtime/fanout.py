"""The realtime subscriber of the event bus: re-reads the row and pushes a frame to groups.

Apps register one payload builder per event name. The builder runs after commit inside the
event's schema and returns the frame data plus the groups allowed to see it (or a list of such
pairs, when different audiences may see different data), or None when the row is gone. Builders
live in each app's `events.py`.
"""

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable

from channels.layers import get_channel_layer
from django.db import connection
from django_tenants.utils import schema_context

from conversa.events import Event, subscribe
from conversa.realtime.groups import company_group, group_name

logger = logging.getLogger("conversa.realtime")

Frame = tuple[dict, Iterable[str]]
Builder = Callable[[Event], Frame | list[Frame] | None]
_builders: dict[str, Builder] = {}


def realtime_payload(event_name: str):
    """Register the function building the frame of `event_name`."""

    def register(builder: Builder) -> Builder:
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
    layer = get_channel_layer()
    groups = list(groups)

    async def send_all():
        for group in groups:
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


@subscribe
def push_realtime(event: Event) -> None:
    builder = _builders.get(event.name)
    if builder is None:
        return
    if connection.schema_name == event.schema_name:
        # Entering the same schema again would still cost a SET search_path before the query and
        # another after it (django-tenants forgets the path on every switch).
        built = builder(event)
    else:
        with schema_context(event.schema_name):
            built = builder(event)
    if built is None:
        return
    for data, audience in built if isinstance(built, list) else [built]:
        groups = {group_name(event.schema_name, suffix) for suffix in audience}
        send_to_groups(sorted(groups), event_message(event.name, data))


def close_company_sockets(schema_name: str, *, code: int) -> None:
    """Ask every socket of the company to close with `code` (e.g. 4402 when suspended)."""
    send_to_groups([company_group(schema_name)], {"type": "company.close", "code": code})
