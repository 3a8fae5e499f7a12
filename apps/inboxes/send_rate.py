"""The per-inbox send rate limit, shared by every worker process through Redis (SPEC §4).

Grants are paced, not counted: one every `WINDOW / per_second` seconds (GCRA with a burst of one).
A counted window would let a whole second's budget out at once, and the scatter of that burst on
its way to the provider can put more than `per_second` arrivals into one real second there. Paced
grants leave `SAFETY` seconds of slack in every second for jitter between grant and arrival.
"""

import random
import time

from conversa.redis import get_redis, redis_key

SAFETY = 0.08
WINDOW = 1.0 + SAFETY

# Runs atomically in Redis. Time comes from the Redis server (TIME), not from the callers, so workers
# on several machines with drifting clocks share one timeline. Times are integer microseconds, which
# a Lua number (a double) holds exactly. The wait goes back as a string because Redis truncates Lua
# numbers to integers.
_RESERVE = """
local interval = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_grant = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_grant > now then
    return tostring(next_grant - now)
end
redis.call('SET', KEYS[1], tostring(now + interval), 'PX', math.ceil(interval / 1000) + 1000)
return '0'
"""
# The shortest wait we report, so callers never spin on a zero.
_MIN_WAIT = 0.001


def _key(schema_name: str, inbox_id: int) -> str:
    return redis_key("send-rate", schema_name, inbox_id)


def reserve_send_slot(*, schema_name: str, inbox_id: int, per_second: int) -> float:
    """0.0 if the caller may send now (the slot is taken), else seconds to wait before asking again.

    A refusal records nothing, so waiting callers do not eat each other's budget.
    """
    if per_second < 1:
        raise ValueError("per_second must be at least 1")
    interval_us = round(WINDOW * 1_000_000 / per_second)
    wait_us = float(get_redis().eval(_RESERVE, 1, _key(schema_name, inbox_id), interval_us))
    return 0.0 if wait_us <= 0 else max(wait_us / 1_000_000, _MIN_WAIT)


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
