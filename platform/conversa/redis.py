"""One Redis client per process for counters and rate limits (the cache and layers have theirs)."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30,
    )


def redis_key(*parts) -> str:
    """A key in our namespace: `{REDIS_KEY_PREFIX}:part:part…`."""
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(part) for part in parts)])
