"""Fixed-window rate limits in Redis, shared by every process.

Keys must carry the tenant schema whenever they concern tenant data.
"""

import time

from conversa.errors import RateLimited
from conversa.redis import get_redis, redis_key

# INCR and set the expiry in one round trip; the key lives exactly as long as its window.
_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _window_key(key: str, window: int) -> str:
    return redis_key("rl", key, int(time.time() // window) * window)


def seconds_left(window: int) -> int:
    now = time.time()
    return max(1, int((now // window + 1) * window - now))


def incr(key: str, *, window: int) -> int:
    return int(get_redis().eval(_INCR, 1, _window_key(key, window), window))


def count(key: str, *, window: int) -> int:
    return int(get_redis().get(_window_key(key, window)) or 0)


def hit(key: str, *, limit: int, window: int, message=None) -> int:
    """Count one hit of `key`; raise RateLimited once more than `limit` fall in the window."""
    hits = incr(key, window=window)
    if hits > limit:
        raise RateLimited(message, retry_after=seconds_left(window))
    return hits


# --- rates without window edges (GCRA) --------------------------------------------------------------
# A fixed window lets 2x the limit through around its edge (the last second of one, the first of the
# next). The generic cell rate algorithm keeps one "theoretical arrival time" per key: `limit`
# requests may come at once, then one every `window / limit` seconds, whatever the clock says.
# Redis's own clock is used, so every web process on every machine agrees.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
return 0
"""


def take(key: str, *, limit: int, window: int = 60) -> float:
    """Take one of `limit` requests per `window` seconds for `key`: 0 if allowed, else the seconds
    to wait before the next one is (nothing is counted for a refused request)."""
    interval_ms = -(-window * 1000 // limit)  # whole milliseconds: Lua stores and prints them exactly
    wait_ms = get_redis().eval(_GCRA, 1, redis_key("gcra", key), interval_ms, interval_ms * limit)
    return int(wait_ms) / 1000
