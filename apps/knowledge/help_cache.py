"""The help centre's page cache: whole pages per company, language and path, dropped at once when
an article or category changes (a version number in every key, bumped after the change commits).

Keys go through the default cache, whose key function carries the company's schema, so one
company's pages are never served on another's host.
"""

from django.core.cache import cache

from conversa.cache_version import CacheVersion

PAGE_TTL = 3600
VERSION = CacheVersion("help:version")
bump = VERSION.bump
bump_on_commit = VERSION.bump_on_commit  # after an article or a category changed


def page_key(*parts) -> str:
    return ":".join(["help", "page", str(VERSION.current()), *(str(part) for part in parts)])


def get_page(key: str) -> str | None:
    return cache.get(key)


def set_page(key: str, html: str) -> None:
    cache.set(key, html, timeout=PAGE_TTL)
