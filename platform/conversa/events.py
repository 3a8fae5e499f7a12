"""The domain-event bus: services publish after commit, subscribers (realtime, webhooks…) react.

    publish(AGENT_STATUS_UPDATED, {"user_id": user.id})

Payloads are ids and plain values. Nothing is delivered for a transaction that rolls back, and a
failing subscriber never breaks the write that published the event or the other subscribers.

Code that commits many events in a row (the webhook drain) wraps its work in `delivered_together()`:
the events are then handed over as one list when the block ends, so a subscriber such as the
realtime fan-out reads their rows in one query per kind and pushes their frames in one round trip.
The bus does the same around its per-event subscribers (a flow taking each new conversation).

Work done on behalf of something other than a person (an automation rule) runs inside
`caused_by("automation.rule:12")`: every event published meanwhile carries that `cause`, captured
when it is published (not when it is delivered, which may be later and elsewhere), so a listener
can recognise the consequences of its own work and not react to them again.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import connection, transaction

logger = logging.getLogger("conversa.events")


@dataclass(frozen=True)
class Event:
    name: str
    schema_name: str
    data: dict = field(default_factory=dict)
    # What made it happen when not a person's request (see `caused_by`); "" otherwise.
    cause: str = ""


Subscriber = Callable[[Event], None]
BatchSubscriber = Callable[[list[Event]], None]
_subscribers: list[Subscriber] = []
_batch_subscribers: list[BatchSubscriber] = []
_awaited: set[BatchSubscriber] = set()  # the first ones of `_batch_subscribers`
_held = threading.local()
_cause: ContextVar[str] = ContextVar("conversa_event_cause", default="")


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a subscriber for every event (usable as a decorator)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def subscribe_batch(subscriber: BatchSubscriber | None = None, *, awaited: bool = False):
    """Register a subscriber that takes the events as a list, in the order they were committed
    (usable as `@subscribe_batch` or `@subscribe_batch(awaited=True)`).

    `awaited`: someone is waiting for what it does (an agent for the realtime frames, a customer
    for the bot's reply, a conversation for its assignment). It then runs before the subscribers
    that keep books (reports, automation, outgoing webhooks), whatever order the apps load in: a
    webhook drain's batch used to reach the bot's step last, after all of those had worked.
    """

    def register(subscriber: BatchSubscriber) -> BatchSubscriber:
        if subscriber not in _batch_subscribers:
            if awaited:
                _batch_subscribers.insert(len(_awaited), subscriber)
                _awaited.add(subscriber)
            else:
                _batch_subscribers.append(subscriber)
        return subscriber

    return register if subscriber is None else register(subscriber)


def publish(name: str, data: dict | None = None, *, schema_name: str | None = None) -> None:
    """Deliver `name` to every subscriber once the current transaction commits."""
    event = Event(
        name=name, schema_name=schema_name or connection.schema_name, data=data or {}, cause=_cause.get()
    )
    transaction.on_commit(lambda: dispatch(event))


@contextmanager
def caused_by(cause: str) -> Iterator[None]:
    """Mark every event published inside the block as caused by `cause` (nested blocks: the inner)."""
    token = _cause.set(cause)
    try:
        yield
    finally:
        _cause.reset(token)


@contextmanager
def delivered_together() -> Iterator[None]:
    """Hold the events committed inside the block and deliver them as one batch at its end.

    Commit hooks still decide what is delivered (a rolled-back savepoint's events never are); only
    the moment moves, to the end of the block. Nested blocks deliver with the outermost one.
    """
    if getattr(_held, "events", None) is not None:
        yield
        return
    _held.events = []
    try:
        yield
    finally:
        events, _held.events = _held.events, None
        if events:
            dispatch_many(events)


def dispatch(event: Event) -> None:
    held = getattr(_held, "events", None)
    if held is not None:
        held.append(event)
    else:
        dispatch_many([event])


def dispatch_many(events: list[Event]) -> None:
    # What per-event subscribers commit (a flow taking each new conversation of a drain's batch)
    # goes out as one batch before the batch subscribers hear these events, not as one per event.
    with delivered_together():
        for subscriber in list(_subscribers):
            for event in events:
                try:
                    subscriber(event)
                except Exception:
                    logger.exception("event subscriber %r failed for %s", subscriber, event.name)
    for batch_subscriber in list(_batch_subscribers):
        try:
            batch_subscriber(events)
        except Exception:
            logger.exception("event subscriber %r failed for %d events", batch_subscriber, len(events))
