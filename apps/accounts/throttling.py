"""Login throttling: per client IP and per account, in Redis, keyed by schema."""

import hashlib

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_lazy as _

from conversa import ratelimit
from conversa.errors import RateLimited

TOO_MANY = _("Too many login attempts. Try again later.")


def client_ip(request) -> str:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            # Our proxy appends the address it saw: the rightmost entry is the one not forged.
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def email_digest(email: str) -> str:
    """Stands for an email where the address itself must not be kept (keys, logs, breadcrumbs)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _account_key(email: str) -> str:
    return f"{connection.schema_name}:login-fail:{email_digest(email)}"


def check_login_allowed(*, ip: str, email: str) -> None:
    """Count this attempt against the IP; refuse while the account has too many failures."""
    ratelimit.hit(
        f"login-ip:{ip}", limit=settings.LOGIN_ATTEMPTS_PER_IP_PER_MINUTE, window=60,
        message=TOO_MANY,
    )
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    if ratelimit.count(_account_key(email), window=window) >= settings.LOGIN_FAILURES_PER_ACCOUNT:
        raise RateLimited(TOO_MANY, retry_after=ratelimit.seconds_left(window))


def record_login_failure(*, email: str) -> None:
    ratelimit.incr(_account_key(email), window=settings.LOGIN_FAILURE_WINDOW_SECONDS)
