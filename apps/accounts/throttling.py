"""Login throttling: per client IP and per account, in Redis, keyed by schema."""

import hashlib

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_lazy as _

from conversa import ratelimit
from conversa.errors import RateLimited

TOO_MANY = _("Too many login attempts. Try again later.")


def email_digest(email: str) -> str:
    """Stands for an email where the address itself must not be kept (keys, logs, breadcrumbs)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def account_key(*, user=None, email: str = "") -> str:
    """The failure budget a login attempt spends: the account the lookup found, else the email.

    Keyed by the user's id, because the lookup compares with PostgreSQL's UPPER: "mıssion@…"
    (dotless ı) or "miſſion@…" (long s) find the same user as "mission@…" and must not get fresh
    budgets. An email that finds nobody is folded the same way (upper case) for its key.
    """
    if user is not None:
        return f"{connection.schema_name}:login-fail:user:{user.pk}"
    folded = hashlib.sha256(email.strip().upper().encode()).hexdigest()[:32]
    return f"{connection.schema_name}:login-fail:email:{folded}"


def check_login_allowed(*, ip: str, account: str) -> None:
    """Count this attempt against the IP; refuse while the account has too many failures.

    `account` is `account_key(...)` of the user the attempt names.
    """
    ratelimit.hit(
        f"login-ip:{ip}", limit=settings.LOGIN_ATTEMPTS_PER_IP_PER_MINUTE, window=60,
        message=TOO_MANY,
    )
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    if ratelimit.count(account, window=window) >= settings.LOGIN_FAILURES_PER_ACCOUNT:
        raise RateLimited(TOO_MANY, retry_after=ratelimit.seconds_left(window))


def record_login_failure(*, account: str) -> None:
    ratelimit.incr(account, window=settings.LOGIN_FAILURE_WINDOW_SECONDS)


# --- second factor ------------------------------------------------------------------------------
# Wrong TOTP or backup codes have their own budget per account: reaching a code prompt takes the
# password, and the code space (10^6 per step) must not be walked through at request speed.

def otp_key(user) -> str:
    return f"{connection.schema_name}:otp-fail:user:{user.pk}"


TOO_MANY_CODES = _("Too many wrong codes. Try again later.")


def check_otp_allowed(*, user) -> None:
    window = settings.OTP_FAILURE_WINDOW_SECONDS
    if ratelimit.count(otp_key(user), window=window) >= settings.OTP_FAILURES_PER_ACCOUNT:
        raise RateLimited(TOO_MANY_CODES, retry_after=ratelimit.seconds_left(window))


def record_otp_failure(*, user) -> None:
    ratelimit.incr(otp_key(user), window=settings.OTP_FAILURE_WINDOW_SECONDS)
