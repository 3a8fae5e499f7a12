"""Whether a company uses a feature at all, remembered in Redis per company: listeners that hear
every event of every company ask it first, so a company without the feature pays no query.

A "no" is only stored when the database says so at the time (SET NX), and the writes that put the
feature in use overwrite it with "yes", so nothing is ever missed; a stale "yes" (the last use
removed, a rolled-back creation) costs the queries of the time before until it expires. Without
Redis the answer is "yes": ask the database every time rather than miss anything.
"""

from collections.abc import Callable

from django.db import connection, transaction
from redis.exceptions import RedisError

from conversa.redis import get_redis, redis_key

TTL_SECONDS = 600


class InUseMark:
    def __init__(self, name: str):
        self.name = name

    def key(self, schema_name: str) -> str:
        return redis_key(f"{self.name}-in-use", schema_name)

    def get(self, schema_name: str, ask_database: Callable[[], bool]) -> bool:
        """The mark, or `ask_database()` (run by the caller in the company's schema) remembered."""
        key = self.key(schema_name)
        try:
            redis = get_redis()
            value = redis.get(key)
        except RedisError:
            return True
        if value is not None:
            return value == b"1"
        used = ask_database()
        try:
            redis.set(key, b"1" if used else b"0", ex=TTL_SECONDS, nx=True)
        except RedisError:
            pass
        return used

    def _set(self, key: str) -> None:
        try:
            get_redis().set(key, b"1", ex=TTL_SECONDS)
        except RedisError:
            pass  # the database answers once the old mark expires

    def mark_after_commit(self) -> None:
        """The current schema's company uses the feature from this transaction's commit on."""
        key = self.key(connection.schema_name)
        transaction.on_commit(lambda: self._set(key))

    def mark_now_and_after_commit(self) -> None:
        """As `mark_after_commit`, and "yes" at once too: a listener racing the write asks the
        database rather than trust an older "no"."""
        self._set(self.key(connection.schema_name))
        self.mark_after_commit()

    def forget_after_commit(self) -> None:
        """A use was removed: after the commit the next look asks the database again."""
        key = self.key(connection.schema_name)

        def forget():
            try:
                get_redis().delete(key)
            except RedisError:
                pass  # a stale "yes" only costs queries until it expires

        transaction.on_commit(forget)
