"""Who sent a request and through which door, as audit logs and rate limits record it."""

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
