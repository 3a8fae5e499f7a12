"""A company's version number of some cached data, bumped once a change to that data commits.

Keys that carry the number are all dropped at once by the bump, without anyone knowing them. A
reader that computed its value from before a change stores it under the old number, which nobody
reads again: no stale value outlives the change that made it stale.

The numbers live in the default cache, whose key function carries the company's schema.
"""

from django.core.cache import cache
from django.db import connection, transaction
from django_tenants.utils import schema_context


class CacheVersion:
    def __init__(self, key: str):
        self.key = key

    def current(self) -> int:
        current = cache.get(self.key)
        if current is None:
            # add() so that two processes starting at once agree on one number.
            cache.add(self.key, 1, timeout=None)
            current = cache.get(self.key) or 1
        return int(current)

    def bump(self) -> None:
        try:
            cache.incr(self.key)
        except ValueError:
            cache.add(self.key, 2, timeout=None)

    def bump_on_commit(self) -> None:
        """Bump once the current transaction commits (in this company's schema, whatever the
        connection's schema is by then)."""
        schema_name = connection.schema_name

        def bump_in_schema():
            with schema_context(schema_name):
                self.bump()

        transaction.on_commit(bump_in_schema)
