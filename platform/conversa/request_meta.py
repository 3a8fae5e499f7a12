"""Who sent a request and through which door, as audit logs and rate limits record it."""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


def client_ip(request) -> str:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            # Our proxy appends the address it saw: the rightmost entry is the one not forged.
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


@dataclass(frozen=True)
class RequestMeta:
    """What a service records about the request that asked for a write, without the request.

    `source` names the door: "console", "api", or "system" for commands and tasks.
    """

    source: str = "system"
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def of(cls, request, *, source: str) -> "RequestMeta":
        return cls(
            source=source, ip=client_ip(request) or None,
            user_agent=request.headers.get("User-Agent", "")[:300],
        )


# The request being served, for writes deep in services that were not handed it (audit entries
# record its IP and user agent). Set by conversa.middleware.request_meta for each HTTP request.
_current: ContextVar[RequestMeta | None] = ContextVar("conversa_request_meta", default=None)


def current_request_meta() -> RequestMeta | None:
    """The meta of the HTTP request this code runs for, or None (tasks, commands, sockets)."""
    return _current.get()


@contextlib.contextmanager
def serving(meta: RequestMeta) -> Iterator[None]:
    token = _current.set(meta)
    try:
        yield
    finally:
        _current.reset(token)
