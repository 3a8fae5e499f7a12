"""The realtime subscriber of the event bus: re-reads the row and pushes a frame to groups.

Apps register one payload builder per event name. The builder runs after commit inside the
event's schema and returns the frame data plus the groups allowed to see it (or a list of such
pairs, when different audiences may see different data), or None when the row is gone. Builders
live in each app's `events.py`.
"""

import logging
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
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


def send_to_groups(groups: Iterable[str], message: dict) -> None:
    layer = get_channel_layer()

    async def send_all():
        for group in groups:
            await layer.group_send(group, message)

    async_to_sync(send_all)()


@subscribe
def push_realtime(event: Event) -> None:
    builder = _builders.get(event.name)
    if builder is None:
        return
    with schema_context(event.schema_name):
        built = builder(event)
    if built is None:
        return
    for data, audience in built if isinstance(built, list) else [built]:
        groups = {group_name(event.schema_name, suffix) for suffix in audience}
        send_to_groups(sorted(groups), {"type": "realtime.event", "event": event.name, "data": data})


def close_company_sockets(schema_name: str, *, code: int) -> None:
    """Ask every socket of the company to close with `code` (e.g. 4402 when suspended)."""
    send_to_groups([company_group(schema_name)], {"type": "company.close", "code": code})
