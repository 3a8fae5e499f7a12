"""Password change (current password required) and reset by an emailed, single-use, expiring link.

A reset token is Django's HMAC over the user's password hash, last login, email and this
company's schema, so it works once (the new password changes the hash), expires after
PASSWORD_RESET_TIMEOUT and means nothing on another company's host. Nothing is stored.
Asking for a reset answers the same, in about the same time, whether or not the email exists:
the request only counts the throttles and queues a task, which looks the address up.
"""

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja_jwt.exceptions import TokenError
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.accounts import throttling
from apps.accounts.device_sessions import device_sessions_revoke_all, device_sessions_revoke_others
from apps.accounts.models import User
from apps.accounts.reset_tokens import reset_tokens, user_of_reset_token
from apps.accounts.services import _validate_password
from apps.accounts.tasks import password_reset_send
from apps.accounts.tokens import SESSION_CLAIM, TenantRefreshToken
from apps.audit.changes import MASK
from apps.audit.services import audit_record
from conversa import ratelimit
from conversa.errors import RateLimited, TokenInvalid, ValidationFailed

TOO_MANY_RESETS = _("Too many password reset requests. Try again later.")


class ResetTokenInvalid(TokenInvalid):
    code = "reset_token_invalid"
    default_message = _("This password reset link is invalid, expired or already used.")


def revoke_refresh_tokens(user: User, *, keep_jti: str | None = None) -> int:
    """Blacklist every unexpired refresh token of `user` (all their devices) but `keep_jti`."""
    alive = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True,
    )
    if keep_jti:
        alive = alive.exclude(jti=keep_jti)
    revoked = [BlacklistedToken(token=token) for token in alive]
    BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    return len(revoked)


def _kept(user: User, refresh: str | None) -> tuple[str | None, int | None]:
    """The jti and device session of the caller's own refresh token (None, None if not theirs)."""
    if not refresh:
        return None, None
    try:
        token = TenantRefreshToken(refresh)
    except TokenError:
        return None, None
    if token.get("user_id") != user.pk:
        return None, None
    return token["jti"], token.get(SESSION_CLAIM)


def password_change(
    *, user: User, current_password: str, new_password: str, keep_refresh: str | None = None,
) -> User:
    """Set a new password once the current one is proven; every other device's refresh token is
    revoked (`keep_refresh`, the caller's own, survives). Wrong current passwords spend the
    account's login failure budget, so a stolen access token cannot guess at leisure."""
    account = throttling.account_key(user=user)
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    if ratelimit.count(account, window=window) >= settings.LOGIN_FAILURES_PER_ACCOUNT:
        raise RateLimited(throttling.TOO_MANY, retry_after=ratelimit.seconds_left(window))
    if not user.check_password(current_password or ""):
        throttling.record_login_failure(account=account)
        raise ValidationFailed(details=[{
            "field": "current_password", "message": str(_("The current password is not correct.")),
        }])
    _checked(new_password, user)
    keep_jti, keep_session = _kept(user, keep_refresh)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        # Revoking the devices also refuses their access tokens at once, not when they expire.
        device_sessions_revoke_others(user=user, keep_id=keep_session)
        revoked = revoke_refresh_tokens(user, keep_jti=keep_jti)
        audit_record(action="user.password_changed", entity_type="user", entity_id=user.pk, actor=user,
                     changes={"password": [MASK, MASK], "sessions_revoked": revoked})
    return user


def _checked(new_password: str, user: User) -> None:
    try:
        _validate_password(new_password or "", user)
    except ValidationFailed as exc:
        raise ValidationFailed(
            details=[{**detail, "field": "new_password"} for detail in exc.details],
        ) from exc


def password_reset_request(*, email: str, ip: str, base_url: str) -> None:
    """Throttle (per address and per client IP, in this company) and queue the lookup and email.

    The same for every address: what happens next depends on whether it exists, and happens in
    the task, so neither the answer nor its timing tells.
    """
    email = (email or "").strip().lower()
    schema_name = connection.schema_name
    ratelimit.hit(f"{schema_name}:pwreset-ip:{ip}", limit=settings.PASSWORD_RESET_PER_IP_PER_HOUR,
                  window=3600, message=TOO_MANY_RESETS)
    ratelimit.hit(f"{schema_name}:pwreset-email:{throttling.email_digest(email)}",
                  limit=settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR, window=3600, message=TOO_MANY_RESETS)
    password_reset_send(schema_name, email, base_url)


def reset_token_check(token: str) -> User:
    """The user a still-valid reset link is for, else ResetTokenInvalid."""
    user = user_of_reset_token(token)
    if user is None:
        raise ResetTokenInvalid()
    return user


def password_reset_confirm(*, token: str, new_password: str) -> User:
    """Set the new password of the link's user; the link dies with the old password hash, and every
    refresh token of the user is revoked (all devices sign in again)."""
    with transaction.atomic():
        user = reset_token_check(token)
        user = User.objects.select_for_update().get(pk=user.pk)
        if not reset_tokens.check_token(user, token.partition("-")[2]):  # re-checked under the lock
            raise ResetTokenInvalid()
        _checked(new_password, user)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        device_sessions_revoke_all(user=user)
        revoked = revoke_refresh_tokens(user)
        audit_record(action="user.password_reset", entity_type="user", entity_id=user.pk, actor=user,
                     changes={"password": [MASK, MASK], "sessions_revoked": revoked})
    return user
