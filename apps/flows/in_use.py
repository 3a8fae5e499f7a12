"""Whether a company uses flows at all, remembered in Redis: the listeners hear every event of every
company's conversations and ask this first, so a company without flows pays no query for them.

A "no" is only ever stored when it is true at the time (SET NX after the database said so) and a
publish overwrites it with "yes" after its commit; a stale "yes" (the last flow deleted) costs a few
queries until it expires, never a missed trigger.
"""

from django.db import connection, transaction
from django.db.models import Q
from redis.exceptions import RedisError

from apps.flows.models import Flow, FlowSession
from conversa.redis import get_redis, redis_key

TTL_SECONDS = 600


def in_use_key(schema_name: str) -> str:
    return redis_key("flows-in-use", schema_name)


def flows_in_use() -> bool:
    key = in_use_key(connection.schema_name)
    try:
        redis = get_redis()
        value = redis.get(key)
    except RedisError:
        return True  # ask the database every time rather than miss a flow
    if value is not None:
        return value == b"1"
    used = Flow.objects.filter(
        Q(deleted_at__isnull=True, published_version__isnull=False)
        | Q(sessions__status=FlowSession.Status.RUNNING)
    ).exists()
    try:
        redis.set(key, b"1" if used else b"0", ex=TTL_SECONDS, nx=True)
    except RedisError:
        pass
    return used


def mark_in_use_after_commit() -> None:
    key = in_use_key(connection.schema_name)

    def mark():
        try:
            get_redis().set(key, b"1", ex=TTL_SECONDS)
        except RedisError:
            pass  # the listeners then find the flow through the database when the key expires

    transaction.on_commit(mark)
