"""The per-inbox send rate limit, shared by every worker process through Redis (SPEC §4).

Grants are paced, not counted: one every `interval` seconds (GCRA with a burst of one). A counted
window would let a whole second's budget out at once, and the scatter of that burst on its way to
the provider can put more than `per_second` arrivals into one real second there.

Two kinds of sender share an inbox's budget in one atomic script:
- replies (`reserve_send_slot`, high priority): paced at `WINDOW / per_second`, which leaves
  `SAFETY` seconds of slack in every second for the jitter between a grant and its arrival. A reply
  refused a slot raises a short "wanted" flag that campaign grants yield to, so an agent's reply
  waits at most about one interval, never behind a campaign's backlog.
- bulk sends (`reserve_bulk_slot`, low priority: campaigns) are paced at `1 / per_second` with no
  slack, and are bounded exactly instead: every grant enters a log of the inbox's recent sends
  with an upper bound of its arrival at the provider (grant + `BULK_HOLD`, lowered to the moment
  the sender saw the answer by `bulk_slot_done`). A grant is refused while `per_second` logged
  sends may still arrive within the last second. Any two sends whose arrivals fall in one
  [t, t + 1 s) then include the later-granted one, which saw the other in the log, so no window
  holds more than `per_second` of them however the network delays them; a steady sender loses
  only its round trip per second (≥ 99 % of the rate on a local network). Replies enter the log too,
  bounded by their grant + `SAFETY`, the assumption their pacing already makes.
"""

import random
import time
import uuid

from conversa.redis import get_redis, redis_key

SAFETY = 0.08
WINDOW = 1.0 + SAFETY

# Runs atomically in Redis. Time comes from the Redis server (TIME), not from the callers, so workers
# on several machines with drifting clocks share one timeline. Times are integer microseconds, which
# a Lua number (a double) holds exactly. The wait goes back as a string because Redis truncates Lua
# numbers to integers.
# KEYS: pace (next grant), log (sorted set token -> arrival bound), wanted (a reply is waiting).
# ARGV: interval, limit per window, token, high priority (1/0), arrival bound after the grant,
# how far behind its pace a late caller may catch up.
_RESERVE = """
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local high = ARGV[4] == '1'
local hold = tonumber(ARGV[5])
local window = 1000000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if not high and redis.call('EXISTS', KEYS[3]) == 1 then
    return tostring(math.max(interval, 2000))
end
local wait = 0
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    wait = math.max(1, tonumber(oldest[2]) + window - now)
    -- a bulk send still in flight is bounded by its hold; its sender lowers it much sooner
    if string.sub(oldest[1], 1, 2) == 'b:' and tonumber(oldest[2]) > now then
        wait = math.min(wait, 20000)
    end
else
    local next_grant = tonumber(redis.call('GET', KEYS[1]) or '0')
    if next_grant > now then
        wait = next_grant - now
    end
end
if wait > 0 then
    if high then
        redis.call('SET', KEYS[3], '1', 'PX', math.ceil(wait / 1000) + 50)
    end
    return tostring(wait)
end
-- On schedule: a caller that comes a little late (a sleep's overshoot, a bulk sender fetching its
-- next batch) keeps the pace, at most `catch_up` behind; the log above bounds any burst that makes.
local catch_up = tonumber(ARGV[6])
local base = tonumber(redis.call('GET', KEYS[1]) or '0')
if base < now - catch_up then
    base = now
end
redis.call('SET', KEYS[1], tostring(base + interval), 'PX', math.ceil(interval / 1000) + 1000)
redis.call('ZADD', KEYS[2], now + hold, ARGV[3])
redis.call('PEXPIRE', KEYS[2], math.ceil((hold + window) / 1000) + 1000)
if high then
    redis.call('DEL', KEYS[3])
end
return '0'
"""
# Lowers a bulk grant's arrival bound to now: the provider has answered, so it has arrived.
_DONE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    local t = redis.call('TIME')
    redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
end
return 0
"""
# The shortest wait we report, so callers never spin on a zero.
_MIN_WAIT = 0.001
# A bulk send's arrival bound until its sender reports the answer: the provider clients' timeout
# (10 s) plus margin; a sender that dies mid-send holds its slot that long.
BULK_HOLD = 11.0
# A bulk sender stalled this long (fetching its next batch) may send a little faster until it is
# back on its pace; the log keeps every second within the rate all the same.
BULK_CATCH_UP = 0.1


def _key(schema_name: str, inbox_id: int) -> str:
    return redis_key("send-rate", schema_name, inbox_id)


def _keys(schema_name: str, inbox_id: int) -> list[str]:
    return [_key(schema_name, inbox_id), redis_key("send-rate", schema_name, inbox_id, "log"),
            redis_key("send-rate", schema_name, inbox_id, "wanted")]


def _reserve(redis, *, schema_name: str, inbox_id: int, per_second: int, window: float, token: str,
             high: bool, hold: float, catch_up: float | None = None) -> float:
    if per_second < 1:
        raise ValueError("per_second must be at least 1")
    interval_us = round(window * 1_000_000 / per_second)
    catch_up_us = interval_us if catch_up is None else max(interval_us, round(catch_up * 1_000_000))
    wait_us = float(redis.eval(_RESERVE, 3, *_keys(schema_name, inbox_id), interval_us, per_second, token,
                               "1" if high else "0", round(hold * 1_000_000), catch_up_us))
    return 0.0 if wait_us <= 0 else max(wait_us / 1_000_000, _MIN_WAIT)


def reserve_send_slot(*, schema_name: str, inbox_id: int, per_second: int) -> float:
    """0.0 if the caller (a reply) may send now (the slot is taken), else seconds to wait before
    asking again.

    A refusal records nothing, so waiting callers do not eat each other's budget.
    """
    return _reserve(get_redis(), schema_name=schema_name, inbox_id=inbox_id, per_second=per_second,
                    window=WINDOW, token=uuid.uuid4().hex, high=True, hold=SAFETY)


def reserve_bulk_slot(*, redis, schema_name: str, inbox_id: int, per_second: int, token: str) -> float:
    """As `reserve_send_slot`, for a bulk send (a campaign's) identified by `token`: yields to
    waiting replies, paced without slack and bounded by the arrival log. Report the provider's
    answer with `bulk_slot_done(token)` as soon as it comes. `redis`: the caller's client."""
    return _reserve(redis, schema_name=schema_name, inbox_id=inbox_id, per_second=per_second, window=1.0,
                    token=f"b:{token}", high=False, hold=BULK_HOLD, catch_up=BULK_CATCH_UP)


def bulk_slot_done(*, redis, schema_name: str, inbox_id: int, token: str) -> None:
    """The bulk send `token` has been answered: its arrival is behind us, bound it by now."""
    redis.eval(_DONE, 1, _keys(schema_name, inbox_id)[1], f"b:{token}")


def wait_for_send_slot(*, schema_name: str, inbox_id: int, per_second: int, timeout: float) -> bool:
    """Take a slot, sleeping between tries; False if none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        wait = reserve_send_slot(schema_name=schema_name, inbox_id=inbox_id, per_second=per_second)
        if wait == 0.0:
            return True
        remaining = deadline - time.monotonic()
        # The wait is exact unless others take the next slot first, so a longer one cannot succeed.
        if wait > remaining:
            return False
        # A little jitter so the waiting workers do not all ask again in the same instant.
        time.sleep(wait + random.uniform(0, 0.002))
