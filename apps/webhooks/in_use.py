"""Whether a company has webhook endpoints at all, remembered in Redis: the listener hears every
batch of every company's events (a webhook drain's included) and asks this first, so a company
without endpoints pays no query, and no schema switch, for outbound webhooks.

A "no" is only stored when the database says so at the time (SET NX), and creating an endpoint
writes "yes" at once and again after its commit, so no endpoint is ever missed; deleting one forgets
the mark after the commit, and the next look asks the database again. A stale "yes" (a rolled-back
creation) only costs the queries of the time before, until it expires.
"""

from django.db import connection, transaction
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from apps.webhooks.models import Endpoint
from conversa.redis import get_redis, redis_key

TTL_SECONDS = 600


def in_use_key(schema_name: str) -> str:
    return redis_key("webhooks-in-use", schema_name)


def webhooks_in_use(schema_name: str) -> bool:
    """Whether the company with this schema has any endpoint (active or not)."""
    key = in_use_key(schema_name)
    try:
        redis = get_redis()
        value = redis.get(key)
    except RedisError:
        return True  # ask the database every time rather than miss an endpoint
    if value is not None:
        return value == b"1"
    same = connection.schema_name == schema_name
    if same:
        used = Endpoint.objects.exists()
    else:
        with schema_context(schema_name):
            used = Endpoint.objects.exists()
    try:
        redis.set(key, b"1" if used else b"0", ex=TTL_SECONDS, nx=True)
    except RedisError:
        pass
    return used


def _mark(key: str) -> None:
    try:
        get_redis().set(key, b"1", ex=TTL_SECONDS)
    except RedisError:
        pass  # the listener then finds the endpoint through the database when the key expires


def mark_in_use() -> None:
    """An endpoint is being created in the current schema: "yes" now (a listener racing the
    creation queries the database rather than trust an older "no") and after the commit."""
    key = in_use_key(connection.schema_name)
    _mark(key)
    transaction.on_commit(lambda: _mark(key))


def forget_after_commit() -> None:
    """An endpoint was deleted: the next look asks the database whether any is left."""
    key = in_use_key(connection.schema_name)

    def forget():
        try:
            get_redis().delete(key)
        except RedisError:
            pass  # a stale "yes" only costs a query per batch until it expires

    transaction.on_commit(forget)
