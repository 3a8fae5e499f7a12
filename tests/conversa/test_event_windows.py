"""A long run of work delivers its events a few units at a time, never all at its end."""

import pytest

from conversa import events
from conversa.events import Event, delivered_in_windows, delivered_together, dispatch


@pytest.fixture
def batches():
    seen = []
    subscriber = seen.append
    events.subscribe_batch(subscriber)
    yield seen
    events._batch_subscribers.remove(subscriber)


def work(window, units: int) -> None:
    for i in range(units):
        dispatch(Event("unit.done", "alpha", {"i": i}))
        window.done_one()


def test_events_go_out_every_size_units_and_the_rest_at_the_end(batches):
    with delivered_in_windows(size=3, seconds=60) as window:
        work(window, 7)
        assert [len(batch) for batch in batches] == [3, 3]

    assert [[event.data["i"] for event in batch] for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_window_that_has_lasted_its_time_goes_out_before_it_is_full(batches):
    with delivered_in_windows(size=100, seconds=0) as window:
        work(window, 3)

    assert [len(batch) for batch in batches] == [1, 1, 1]


def test_inside_an_outer_block_the_outer_block_delivers(batches):
    with delivered_together():
        with delivered_in_windows(size=1, seconds=0) as window:
            work(window, 3)
        assert batches == []

    assert [len(batch) for batch in batches] == [3]


def test_events_after_the_block_are_delivered_at_once(batches):
    with delivered_in_windows(size=10, seconds=60) as window:
        work(window, 1)
    dispatch(Event("later", "alpha"))

    assert [[event.name for event in batch] for batch in batches] == [["unit.done"], ["later"]]
