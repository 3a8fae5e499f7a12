"""A Huey queue that serves companies in turn, so one company's burst never starves the others.

Each company (a "lane", named by its schema) has its own Redis list; a ring lists the lanes that
hold work, each once. A worker takes the lane at the head of the ring, pops that lane's oldest task
and puts the lane back at the tail if it still has work. A company that queues 10,000 tasks
therefore gets one turn in N (N = companies with work), and a company that queues one task waits
for at most one task of each other company, not for the whole burst. Work that belongs to no
company (the periodic fan-out, the schema pool) shares one lane of its own. Within a lane, tasks a
person waits for (`URGENT`: a webhook drain, a bot's step, an assignment) go before the others.

Every step is one Lua script, so the ring and the lanes never disagree; a total counter keeps
`pending_count()` O(1) for the metrics scrape. Idle workers block on a doorbell list, which every
enqueue rings, so a task starts at once instead of after a polling delay. Tasks that the previous
release queued in Huey's single list (a rolling deploy) are taken first.

This module sits below `conversa.tasks` (djhuey imports it while it reads settings) and reads
Django's settings only when a worker takes a task.
"""

import collections
import contextvars
import itertools
import threading

from django.conf import settings
from huey import RedisHuey
from huey.storage import RedisStorage
from redis.exceptions import TimeoutError as RedisTimeoutError

# Not a possible schema name (`conversa.schemas.SCHEMA_NAME_RE`), so no company can share it.
PLATFORM_LANE = "~platform"
MAX_LANE_LENGTH = 63
# A task's priority that puts it before its lane's other tasks (Huey's `priority`): what a person
# waits for (a customer's message taken in, the bot's reply, an assignment) does not queue behind
# the same company's bulk work (a campaign's sends, an import).
URGENT = 1
URGENT_SUFFIX = ".urgent"

# The lane of the task being enqueued, set by `FairRedisHuey.enqueue` for its storage: Huey hands
# the storage serialized bytes only.
_lane: contextvars.ContextVar[str | None] = contextvars.ContextVar("conversa_huey_lane", default=None)

# KEYS: ring, size counter, doorbell, the lane's list, the lane's urgent list. ARGV: lane, message,
# doorbell length, '1' for an urgent task. The lane joins the ring unless it is there: a worker of
# the release before urgent lists (a rolling deploy) drops a lane whose only work is urgent, and
# the company's next task brings it back.
_ENQUEUE = """
local list = KEYS[4]
if ARGV[4] == '1' then list = KEYS[5] end
redis.call('LPUSH', list, ARGV[2])
if not redis.call('LPOS', KEYS[1], ARGV[1]) then
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
return 1
"""

# KEYS: ring, size counter, Huey's single list. ARGV: prefix of the lanes' lists, suffix of their
# urgent lists, then the lanes this process already runs its share of. Returns {lane, message}
# ('' for Huey's single list).
# Huey's single list first: during a rolling deploy the previous release's processes still queue
# there, and its tasks are the oldest. Lanes at their share go to the back of the ring while
# another lane waits; when all are, the head is served all the same (no thread idles while there
# is work). A lane is in the ring exactly while one of its lists is not empty; a lane found empty
# (its lists flushed under it) is dropped and the next one tried. Within a lane, urgent tasks first.
_DEQUEUE = """
local legacy = redis.call('RPOP', KEYS[3])
if legacy then return {'', legacy} end
if #ARGV > 2 then
  local busy = {}
  for i = 3, #ARGV do busy[ARGV[i]] = true end
  for _ = 1, math.min(redis.call('LLEN', KEYS[1]), 64) do
    if not busy[redis.call('LINDEX', KEYS[1], 0)] then break end
    redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')
  end
end
for _ = 1, 8 do
  local lane = redis.call('LPOP', KEYS[1])
  if not lane then return false end
  local key = ARGV[1] .. lane
  local urgent = key .. ARGV[2]
  local message = redis.call('RPOP', urgent)
  if not message then message = redis.call('RPOP', key) end
  if redis.call('LLEN', key) + redis.call('LLEN', urgent) > 0 then
    redis.call('RPUSH', KEYS[1], lane)
  end
  if message then
    if redis.call('DECR', KEYS[2]) < 0 then redis.call('SET', KEYS[2], 0) end
    return {lane, message}
  end
end
return false
"""

# KEYS: ring, size counter, doorbell, Huey's single list. ARGV: prefix of the lanes' lists, suffix
# of their urgent lists. Only lanes in the ring hold work, so no scan of the keyspace is needed.
_FLUSH = """
for _, lane in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', ARGV[1] .. lane, ARGV[1] .. lane .. ARGV[2])
end
return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
"""


def task_lane(task) -> str:
    """The lane a task queues in: the company named by the task (`fair_lane`), else the platform's."""
    lane = getattr(task, "fair_lane", None)
    if isinstance(lane, str) and 0 < len(lane) <= MAX_LANE_LENGTH:
        return lane
    return PLATFORM_LANE


class FairRedisStorage(RedisStorage):
    """Huey's Redis storage (schedule, results, locks unchanged) with one queue per lane."""

    doorbell_length = 16

    def __init__(self, name="huey", **kwargs):
        super().__init__(name, **kwargs)
        # One hash tag: the lanes, ring and counters share a Redis Cluster slot, as Lua requires.
        base = f"huey.fair.{{{self.name}}}"
        self.ring_key = f"{base}.ring"
        self.size_key = f"{base}.size"
        self.doorbell_key = f"{base}.doorbell"
        self.lane_prefix = f"{base}.lane."
        self._enqueue = self.conn.register_script(_ENQUEUE)
        self._dequeue = self.conn.register_script(_DEQUEUE)
        self._flush = self.conn.register_script(_FLUSH)

    def enqueue(self, data, priority=None, lane=None):
        """Queue a task in its lane; one with a priority (`URGENT`) goes before the lane's others."""
        lane = lane or _lane.get() or PLATFORM_LANE
        self._enqueue(
            keys=[self.ring_key, self.size_key, self.doorbell_key, self.lane_prefix + lane,
                  self.lane_prefix + lane + URGENT_SUFFIX],
            args=[lane, data, self.doorbell_length, "1" if priority else "0"],
        )

    def dequeue(self):
        return self.take()[1]

    def take(self, busy=()) -> tuple[str | None, bytes | None]:
        """The next task as (its lane, its message), passing over the `busy` lanes while another
        lane has work; (None, None) when nothing is queued."""
        taken = self._take(busy)
        if taken or not self.blocking:
            return _taken(taken)
        try:
            # Nothing queued: wait for an enqueue to ring (a stale ring only costs one empty look).
            self.conn.brpop(self.doorbell_key, timeout=self.read_timeout)
        except RedisTimeoutError:
            return None, None
        return _taken(self._take(busy))

    def _take(self, busy):
        return self._dequeue(keys=[self.ring_key, self.size_key, self.queue_key],
                             args=[self.lane_prefix, URGENT_SUFFIX, *busy])

    def ring_doorbell(self) -> None:
        """Wake an idle worker: a lane passed over because it was busy may be served now."""
        self.conn.lpush(self.doorbell_key, "1")
        self.conn.ltrim(self.doorbell_key, 0, self.doorbell_length - 1)

    def queue_size(self):
        pipe = self.conn.pipeline()
        pipe.get(self.size_key)
        pipe.llen(self.queue_key)
        counted, legacy = pipe.execute()
        return max(int(counted or 0), 0) + legacy

    def lanes(self) -> list[str]:
        """The lanes with work, in the order they will be served."""
        return [lane.decode() for lane in self.conn.lrange(self.ring_key, 0, -1)]

    def enqueued_items(self, limit=None):
        """The next tasks in the order workers will take them (each lane's oldest, in turn)."""
        lanes = self.lanes()
        pipe = self.conn.pipeline()
        for lane in lanes:
            for key in (self.lane_prefix + lane + URGENT_SUFFIX, self.lane_prefix + lane):
                if limit:
                    pipe.lrange(key, -limit, -1)
                else:
                    pipe.lrange(key, 0, -1)
        pipe.lrange(self.queue_key, 0, -1)
        *lanes_items, legacy = pipe.execute()
        queues = [
            list(reversed(urgent)) + list(reversed(items))
            for urgent, items in zip(lanes_items[::2], lanes_items[1::2], strict=True)
        ]
        served = itertools.chain(reversed(legacy), (
            item for turn in itertools.zip_longest(*queues) for item in turn if item is not None))
        return list(itertools.islice(served, limit)) if limit else list(served)

    def flush_queue(self):
        self._flush(keys=[self.ring_key, self.size_key, self.doorbell_key, self.queue_key],
                    args=[self.lane_prefix, URGENT_SUFFIX])


def _taken(result) -> tuple[str | None, bytes | None]:
    if not result:
        return None, None
    lane, message = result
    return (lane.decode() or None), message


class FairRedisHuey(RedisHuey):
    """RedisHuey whose tasks queue in their company's lane (`FairRedisStorage`).

    A consumer process also counts the tasks it runs per lane: a company already running
    `HUEY_COMPANY_MAX_THREADS` of them here is passed over while another company waits, so a
    company's long tasks (imports, campaigns) leave threads free for the others."""

    storage_class = FairRedisStorage

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._running: collections.Counter[str] = collections.Counter()
        self._running_lock = threading.Lock()

    def enqueue(self, task):
        token = _lane.set(task_lane(task))
        try:
            return super().enqueue(task)
        finally:
            _lane.reset(token)

    def flush(self):
        super().flush()
        with self._running_lock:
            self._running.clear()  # tasks taken but never run (a test's, a flushed queue's)

    def running(self) -> dict[str, int]:
        """Tasks this process runs now, by lane."""
        with self._running_lock:
            return dict(self._running)

    def dequeue(self):
        if not isinstance(self.storage, FairRedisStorage):  # immediate mode's memory storage
            return super().dequeue()
        share = getattr(settings, "HUEY_COMPANY_MAX_THREADS", 0)
        with self._running_lock:
            busy = [lane for lane, count in self._running.items() if share and count >= share]
        lane, message = self.storage.take(busy)
        if message is None:
            return None
        task = self.deserialize_task(message)
        if lane:
            with self._running_lock:
                self._running[lane] += 1
            task.fair_taken_from = lane
        return task

    def execute(self, task, timestamp=None):
        try:
            return super().execute(task, timestamp)
        finally:
            lane = task.__dict__.pop("fair_taken_from", None)
            if lane:
                with self._running_lock:
                    self._running[lane] -= 1
                    if self._running[lane] <= 0:
                        del self._running[lane]
                    freed = self._running[lane] == getattr(settings, "HUEY_COMPANY_MAX_THREADS", 0) - 1
                if freed and isinstance(self.storage, FairRedisStorage):
                    self.storage.ring_doorbell()
