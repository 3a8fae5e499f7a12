"""The domain-event bus: services publish after commit, subscribers (realtime, webhooks…) react.

    publish(AGENT_STATUS_UPDATED, {"user_id": user.id})

Payloads are ids and plain values. Nothing is delivered for a transaction that rolls back, and a
failing subscriber never breaks the write that published the event or the other subscribers.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction

logger = logging.getLogger("conversa.events")


@dataclass(frozen=True)
class Event:
    name: str
    schema_name: str
    data: dict = field(default_factory=dict)


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a subscriber for every event (usable as a decorator)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def publish(name: str, data: dict | None = None, *, schema_name: str | None = None) -> None:
    """Deliver `name` to every subscriber once the current transaction commits."""
    event = Event(name=name, schema_name=schema_name or connection.schema_name, data=data or {})
    transaction.on_commit(lambda: dispatch(event))


def dispatch(event: Event) -> None:
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:
            logger.exception("event subscriber %r failed for %s", subscriber, event.name)
