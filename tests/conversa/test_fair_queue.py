"""The task queue serves companies in turn: one company's burst does not starve another's work."""

import pytest
from huey.contrib.djhuey import HUEY

from apps.contacts.tasks import contact_import_process
from conversa.fairqueue import PLATFORM_LANE
from tenants.tasks import schema_pool_refill
from tests.fixtures.waiting import eventually

BURST = 500
MISSING_IMPORT = 2**31 - 1  # no such import: each task looks it up and leaves ("skipped")


def burst(schema_name: str, size: int) -> list:
    return [contact_import_process(schema_name, MISSING_IMPORT - n) for n in range(size)]


def done(results) -> int:
    return len(HUEY.storage.peek_many([result.id for result in results]))


def test_a_company_queued_behind_a_burst_is_served_next(alpha, bravo, queue_to_redis):
    burst(alpha.schema_name, 50)
    contact_import_process(bravo.schema_name, MISSING_IMPORT)

    taken = [HUEY.dequeue().args[0] for _ in range(3)]

    assert taken[:2] == [alpha.schema_name, bravo.schema_name]
    assert taken[2] == alpha.schema_name  # bravo had one task; alpha's burst goes on
    assert HUEY.pending_count() == 48
    assert HUEY.storage.lanes() == [alpha.schema_name]


def test_each_company_with_work_gets_a_turn_in_the_order_it_arrived(alpha, bravo, queue_to_redis):
    burst(alpha.schema_name, 3)
    burst(bravo.schema_name, 2)
    schema_pool_refill()  # platform work (no company) has a lane of its own

    assert HUEY.storage.lanes() == [alpha.schema_name, bravo.schema_name, PLATFORM_LANE]
    assert [task.args[0] if task.args else PLATFORM_LANE for task in HUEY.pending()] == [
        alpha.schema_name, bravo.schema_name, PLATFORM_LANE, alpha.schema_name, bravo.schema_name,
        alpha.schema_name,
    ]
    assert len(HUEY.pending(limit=2)) == 2 and HUEY.pending_count() == 6

    HUEY.flush()
    assert HUEY.pending_count() == 0 and HUEY.pending() == [] and HUEY.storage.lanes() == []


@pytest.mark.parametrize(("share", "second"), [(1, "bravo"), (0, "alpha")])
def test_a_company_running_its_share_of_threads_is_passed_over_while_another_waits(
    alpha, bravo, settings, queue_to_redis, db, share, second
):
    settings.HUEY_COMPANY_MAX_THREADS = share  # 0: no share, round robin alone
    burst(alpha.schema_name, 3)
    first = HUEY.dequeue()  # a long alpha task, say, now running here
    contact_import_process(bravo.schema_name, MISSING_IMPORT)

    assert HUEY.dequeue().args[0] == {"alpha": alpha.schema_name, "bravo": bravo.schema_name}[second]
    # Everyone at their share (or nobody else waiting): the queue is served all the same.
    assert HUEY.dequeue() is not None and HUEY.dequeue() is not None
    assert HUEY.running() == {alpha.schema_name: 3, bravo.schema_name: 1}

    HUEY.execute(first)  # done: alpha's count here goes down
    assert HUEY.running() == {alpha.schema_name: 2, bravo.schema_name: 1}


def test_what_a_person_waits_for_goes_before_the_companys_bulk_work(alpha, bravo, queue_to_redis):
    from apps.conversations.drain import webhook_events_drain
    from apps.flows.tasks import flow_sessions_step

    burst(alpha.schema_name, 20)  # an import's rows, say
    contact_import_process(bravo.schema_name, MISSING_IMPORT)
    drain = webhook_events_drain(alpha.schema_name)  # a customer's message came in
    step = flow_sessions_step(alpha.schema_name, [1, 2])  # the bot's replies to write

    alphas = [task.id for task in HUEY.pending() if task.args[0] == alpha.schema_name]
    assert alphas[:2] == [drain.id, step.id]  # first in alpha's lane, in the order they came
    taken = [HUEY.dequeue() for _ in range(4)]
    # Companies still take turns: an urgent task goes first within its company only.
    assert [task.id for task in taken[:1]] == [drain.id]
    assert taken[1].args[0] == bravo.schema_name and taken[2].id == step.id
    assert HUEY.pending_count() == 19 and HUEY.storage.lanes() == [alpha.schema_name]

    HUEY.flush()
    assert HUEY.pending_count() == 0 and HUEY.storage.lanes() == []
    assert HUEY.storage.conn.keys(f"{HUEY.storage.lane_prefix}*") == []


# The dequeue of the release before urgent lists: it knows one list per lane.
PREVIOUS_DEQUEUE = """
local legacy = redis.call('RPOP', KEYS[3])
if legacy then return {'', legacy} end
if #ARGV > 1 then
  local busy = {}
  for i = 2, #ARGV do busy[ARGV[i]] = true end
  for _ = 1, math.min(redis.call('LLEN', KEYS[1]), 64) do
    if not busy[redis.call('LINDEX', KEYS[1], 0)] then break end
    redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')
  end
end
for _ = 1, 8 do
  local lane = redis.call('LPOP', KEYS[1])
  if not lane then return false end
  local key = ARGV[1] .. lane
  local message = redis.call('RPOP', key)
  if redis.call('LLEN', key) > 0 then
    redis.call('RPUSH', KEYS[1], lane)
  end
  if message then
    if redis.call('DECR', KEYS[2]) < 0 then redis.call('SET', KEYS[2], 0) end
    return {lane, message}
  end
end
return false
"""


def test_an_urgent_task_outlives_a_previous_release_worker_that_dropped_its_lane(alpha, queue_to_redis):
    from apps.conversations.drain import webhook_events_drain

    storage = HUEY.storage
    drain = webhook_events_drain(alpha.schema_name)
    previous = storage.conn.register_script(PREVIOUS_DEQUEUE)
    # A worker of the previous release serving the queue during a rolling deploy finds no task in
    # the lane's only list it knows, and drops the lane from the ring.
    assert not previous(keys=[storage.ring_key, storage.size_key, storage.queue_key],
                        args=[storage.lane_prefix])
    assert storage.lanes() == []

    later = contact_import_process(alpha.schema_name, MISSING_IMPORT)  # the company's next task

    assert storage.lanes() == [alpha.schema_name]
    assert [HUEY.dequeue().id for _ in range(2)] == [drain.id, later.id]
    assert HUEY.dequeue() is None and storage.lanes() == []


def test_tasks_the_previous_release_queued_in_the_single_list_are_still_run(alpha, bravo, queue_to_redis):
    burst(alpha.schema_name, 2)
    old = contact_import_process.s(bravo.schema_name, MISSING_IMPORT)
    HUEY.storage.conn.lpush(HUEY.storage.queue_key, HUEY.serialize_task(old))  # as RedisStorage did

    assert HUEY.pending_count() == 3 and HUEY.pending()[0].id == old.id
    assert [HUEY.dequeue().id for _ in range(3)][0] == old.id
    assert HUEY.dequeue() is None


@pytest.mark.live
def test_a_burst_of_one_company_does_not_starve_another_on_a_real_worker(alpha, bravo, worker):
    """Company A queues 500 import-like tasks, then company B one: a real consumer (4 threads)
    finishes B's before it has done a tenth of A's (first in, first out it came after all 500)."""
    queued = burst(alpha.schema_name, BURST)
    single = contact_import_process(bravo.schema_name, MISSING_IMPORT)
    try:
        assert eventually(lambda: done([single]) == 1, timeout=30)
        assert done(queued) < BURST // 10
        assert single.get() == "skipped"
    finally:
        HUEY.flush()  # the rest of the burst: the worker stops idle, at once
