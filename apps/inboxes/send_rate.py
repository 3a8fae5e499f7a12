"""The per-inbox send rate limit, shared by every worker process through Redis (SPEC §4).

A sliding log: a sorted set of the grant times of one inbox. A caller may send when fewer than
`per_second` grants fall in the last `WINDOW` seconds. The window is a little longer than a second
so that jitter between our grant and the request's arrival at the provider cannot put
`per_second + 1` arrivals into one real second there.
"""

import random
import time
import uuid

from conversa.redis import get_redis, redis_key

SAFETY = 0.05
WINDOW = 1.0 + SAFETY

# Runs atomically in Redis. Time comes from the Redis server (TIME), not from the callers, so workers
# on several machines with drifting clocks share one timeline. Times are integer microseconds, which
# a Lua number (a double) holds exactly. Floats go back to the client as strings because Redis
# truncates Lua numbers to integers.
_RESERVE = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
    return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""
_WINDOW_US = round(WINDOW * 1_000_000)
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
    member = uuid.uuid4().hex  # grants in the same microsecond must stay distinct members
    wait_us = float(get_redis().eval(_RESERVE, 1, _key(schema_name, inbox_id), per_second, _WINDOW_US,
                                     member))
    return 0.0 if wait_us <= 0 else max(wait_us / 1_000_000, _MIN_WAIT)


def wait_for_send_slot(*, schema_name: str, inbox_id: int, per_second: int, timeout: float) -> bool:
    """Take a slot, sleeping between tries; False if none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        wait = reserve_send_slot(schema_name=schema_name, inbox_id=inbox_id, per_second=per_second)
        if wait == 0.0:
            return True
        remaining = deadline - time.monotonic()
        # The wait is exact unless others take the freed slot first, so a longer one cannot succeed.
        if wait > remaining:
            return False
        # A little jitter so the waiting workers do not all ask again in the same instant.
        time.sleep(wait + random.uniform(0, 0.002))
