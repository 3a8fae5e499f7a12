"""Which Host headers the deployment answers: BASE_DOMAIN, its subdomains, EXTRA_ALLOWED_HOSTS and
the custom domains companies added, which change at run time (Django's ALLOWED_HOSTS cannot).

The custom domains are kept per process and reloaded when a version number in Redis moves (every
domain change bumps it) or after `CUSTOM_HOSTS_MAX_AGE_SECONDS`. This list only decides between 400
(a host the platform does not know) and "go on": whether a host is served, and which company, is
decided from the database on every request by the tenant middleware, which serves verified domains
only (an unverified one is 404), so a removed domain stops at once in every process.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import transaction
from django.http.request import split_domain_port, validate_host
from redis.exceptions import RedisError

from conversa.redis import get_redis, redis_key

logger = logging.getLogger("conversa.hosts")

_lock = threading.Lock()
_cache: dict = {"version": None, "hosts": frozenset(), "loaded_at": float("-inf")}


def _version_key() -> str:
    return redis_key("custom-hosts", "version")


def platform_hosts() -> list[str]:
    base = settings.BASE_DOMAIN
    return [base, f".{base}", *settings.EXTRA_ALLOWED_HOSTS]


def is_platform_host(domain: str) -> bool:
    return bool(domain) and validate_host(domain, platform_hosts())


def _current_version():
    try:
        return get_redis().get(_version_key())
    except RedisError:
        logger.warning("custom hosts: Redis unavailable, relying on the maximum age")
        return _cache["version"]


def known_custom_hosts() -> frozenset[str]:
    """Every custom domain a company has added, verified or not (lower case, without port)."""
    from tenants.models import Domain

    version = _current_version()
    now = time.monotonic()
    with _lock:
        fresh = now - _cache["loaded_at"] < settings.CUSTOM_HOSTS_MAX_AGE_SECONDS
        if fresh and version == _cache["version"]:
            return _cache["hosts"]
    hosts = frozenset(
        Domain.objects.filter(kind=Domain.Kind.CUSTOM).values_list("domain", flat=True)
    )
    with _lock:
        _cache.update(version=version, hosts=hosts, loaded_at=now)
    return hosts


def is_allowed_host(host: str) -> bool:
    """`host` as the client sent it (maybe with a port)."""
    domain, _port = split_domain_port(host)
    if not domain:
        return False
    return is_platform_host(domain) or domain in known_custom_hosts()


def forget_custom_hosts() -> None:
    """Drop this process's list (the next request reloads it)."""
    with _lock:
        _cache.update(version=None, hosts=frozenset(), loaded_at=float("-inf"))


def custom_hosts_changed() -> None:
    """Call inside the transaction that changed a domain: every process reloads its list.

    Bumped now (this process, and a request of this same transaction, see the change) and again
    after commit (a process that reloaded in between read the rows before the commit).
    """
    forget_custom_hosts()
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        get_redis().incr(_version_key())
    except RedisError:
        logger.warning("custom hosts: could not bump the version; other processes catch up by age")
