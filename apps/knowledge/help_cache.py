"""The help centre's page cache: whole pages per company, language and path, dropped at once when
an article or category changes (a version number in every key, bumped after the change commits).

Keys go through the default cache, whose key function carries the company's schema, so one
company's pages are never served on another's host.
"""

from django.core.cache import cache
from django.db import connection, transaction
from django_tenants.utils import schema_context

VERSION_KEY = "help:version"
PAGE_TTL = 3600


def version() -> int:
    current = cache.get(VERSION_KEY)
    if current is None:
        # add() so that two processes starting at once agree on one number.
        cache.add(VERSION_KEY, 1, timeout=None)
        current = cache.get(VERSION_KEY) or 1
    return int(current)


def bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.add(VERSION_KEY, 2, timeout=None)


def bump_on_commit() -> None:
    """Drop every cached page of this company once the current transaction commits (in this
    company's schema, whatever the connection's schema is by then)."""
    schema_name = connection.schema_name

    def bump_in_schema():
        with schema_context(schema_name):
            bump()

    transaction.on_commit(bump_in_schema)


def page_key(*parts) -> str:
    return ":".join(["help", "page", str(version()), *(str(part) for part in parts)])


def get_page(key: str) -> str | None:
    return cache.get(key)


def set_page(key: str, html: str) -> None:
    cache.set(key, html, timeout=PAGE_TTL)
