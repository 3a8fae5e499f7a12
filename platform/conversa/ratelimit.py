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
