"""The event bus delivers after commit only, and a broken subscriber breaks nothing else."""

import pytest
from django.db import transaction

from conversa import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    seen = []

    def subscriber(event):
        seen.append(event)

    events.subscribe(subscriber)
    yield seen
    events._subscribers.remove(subscriber)


def test_events_are_delivered_after_commit_with_the_schema(
    received, django_capture_on_commit_callbacks, alpha, in_schema,
):
    with django_capture_on_commit_callbacks(execute=True), in_schema(alpha.schema_name):
        events.publish("thing.happened", {"id": 1})
        assert received == []
    assert [(e.name, e.schema_name, e.data) for e in received] == [("thing.happened", "alpha", {"id": 1})]


def test_nothing_is_delivered_for_a_rolled_back_transaction(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                events.publish("never.happened")
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == [] and received == []


def test_a_failing_subscriber_does_not_stop_the_others(received):
    def broken(event):
        raise ValueError("boom")

    events._subscribers.insert(0, broken)
    try:
        events.dispatch(events.Event(name="x", schema_name="alpha"))
    finally:
        events._subscribers.remove(broken)
    assert [e.name for e in received] == ["x"]


def test_awaited_batch_subscribers_run_before_those_that_keep_books():
    order = []

    def books(batch):
        order.append("books")

    def awaited(batch):
        order.append("awaited")

    events.subscribe_batch(books)
    events.subscribe_batch(awaited=True)(awaited)
    try:
        events.dispatch_many([events.Event(name="x", schema_name="alpha")])
    finally:
        events._batch_subscribers.remove(books)
        events._batch_subscribers.remove(awaited)
        events._awaited.discard(awaited)
    assert order == ["awaited", "books"]


def test_a_drains_batch_reaches_the_bot_and_routing_before_reports_and_webhooks():
    from apps.conversations.routing_triggers import route_when_work_or_room_appears
    from apps.flows.listeners import flows_step_after_inbound
    from apps.reports.listeners import reports_hear
    from apps.webhooks.listeners import webhooks_hear

    position = events._batch_subscribers.index
    for waited_for in (flows_step_after_inbound, route_when_work_or_room_appears):
        assert position(waited_for) < min(position(reports_hear), position(webhooks_hear))


def test_what_per_event_subscribers_commit_reaches_the_batch_subscribers_as_one_batch_first():
    # Given a subscriber that takes each new thing in a transaction of its own (as a flow takes
    # each new conversation of a drain's batch), and one that hears batches
    batches = []

    def take(event):
        if event.name == "thing.new":
            events.dispatch(events.Event(name="thing.taken", schema_name="alpha", data=event.data))

    def hear(batch):
        batches.append([(event.name, event.data["n"]) for event in batch])

    events.subscribe(take)
    events.subscribe_batch(hear)
    try:
        # When a batch of three new things is delivered
        events.dispatch_many([events.Event(name="thing.new", schema_name="alpha", data={"n": n})
                              for n in range(3)])
    finally:
        events._subscribers.remove(take)
        events._batch_subscribers.remove(hear)

    # Then the three takings go out together, before the batch that caused them
    assert batches == [[("thing.taken", 0), ("thing.taken", 1), ("thing.taken", 2)],
                       [("thing.new", 0), ("thing.new", 1), ("thing.new", 2)]]
