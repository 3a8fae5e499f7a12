"""Device sessions of the API: one per login, followed through refresh-token rotation, listed to
their user, revoked one by one, all but the current one, or all at once (deactivation)."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from ninja_jwt.utils import datetime_from_epoch

from apps.accounts.models import DeviceSession, User
from apps.accounts.tokens import TenantRefreshToken
from conversa.errors import NotFound
from conversa.request_meta import client_ip


def _describe(request) -> dict:
    if request is None:
        return {"user_agent": "", "ip": None}
    return {"user_agent": request.headers.get("User-Agent", "")[:300], "ip": client_ip(request) or None}


def device_session_start(*, user: User, request=None) -> TenantRefreshToken:
    """A new session for a login from `request`'s device; its first refresh token."""
    with transaction.atomic():
        session = DeviceSession.objects.create(user=user, refresh_jti="", expires_at=timezone.now(),
                                               **_describe(request))
        token = TenantRefreshToken.for_user(user, session_id=session.pk)
        session.refresh_jti = token["jti"]
        session.expires_at = datetime_from_epoch(token["exp"])
        session.save(update_fields=["refresh_jti", "expires_at"])
    return token


def device_session_rotate(*, user: User, session_id: int | None, request=None) -> TenantRefreshToken | None:
    """The next refresh token of a session (None if it was revoked). Call within the transaction
    that blacklists the old token. Tokens from before sessions existed start one."""
    if session_id is None:
        return device_session_start(user=user, request=request)
    session = (DeviceSession.objects.select_for_update()
               .filter(pk=session_id, user=user, revoked_at__isnull=True).first())
    if session is None:
        return None
    token = TenantRefreshToken.for_user(user, session_id=session.pk)
    session.refresh_jti = token["jti"]
    session.expires_at = datetime_from_epoch(token["exp"])
    session.last_used_at = timezone.now()
    described = _describe(request)
    session.ip = described["ip"] or session.ip
    session.save(update_fields=["refresh_jti", "expires_at", "last_used_at", "ip"])
    return token


def device_sessions_of(user: User) -> QuerySet[DeviceSession]:
    """The user's own sessions still able to refresh (never anyone else's)."""
    return DeviceSession.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())


def _revoke(sessions: QuerySet[DeviceSession]) -> int:
    now = timezone.now()
    sessions = list(sessions.select_for_update())
    jtis = [session.refresh_jti for session in sessions]
    for token in OutstandingToken.objects.filter(jti__in=jtis).exclude(blacklistedtoken__isnull=False):
        BlacklistedToken.objects.get_or_create(token=token)
    DeviceSession.objects.filter(pk__in=[session.pk for session in sessions]).update(revoked_at=now)
    return len(sessions)


def device_session_revoke(*, user: User, session_id: int) -> None:
    """Sign one of the user's devices out: its refresh token and access tokens stop working now."""
    with transaction.atomic():
        if not _revoke(device_sessions_of(user).filter(pk=session_id)):
            raise NotFound()


def device_sessions_revoke_others(*, user: User, keep_id: int | None) -> int:
    """Sign out every device of the user but `keep_id` (the one asking); returns how many."""
    with transaction.atomic():
        return _revoke(device_sessions_of(user).exclude(pk=keep_id or 0))


def device_sessions_revoke_all(*, user: User) -> int:
    """Every session and every outstanding refresh token of the user (deactivation)."""
    with transaction.atomic():
        revoked = _revoke(DeviceSession.objects.filter(user=user, revoked_at__isnull=True))
        for token in OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False):
            BlacklistedToken.objects.get_or_create(token=token)
    return revoked
