"""Turning credentials (access tokens, API keys) into a principal, in the current schema."""

from ninja_jwt.settings import api_settings

from apps.accounts.models import User
from apps.accounts.tokens import SESSION_CLAIM, verified_access_token
from conversa.prepared import PreparedRead

# Every API request asks one of these: compiled once (`conversa.prepared`), read each time.
_active_user = PreparedRead(
    lambda user_id: User.objects.filter(pk=user_id, is_active=True).order_by()[:1], user_id=0
)
_active_user_in_session = PreparedRead(
    lambda user_id, session_id: User.objects.filter(
        pk=user_id, is_active=True, device_sessions__pk=session_id, device_sessions__revoked_at__isnull=True
    ).order_by()[:1],
    user_id=0, session_id=0,
)


def user_for_access_token(raw: str, request=None) -> User | None:
    """The active user an access token of this schema names, or None; a token of a device session
    that was revoked (signed out, deactivated) is refused at once. One query."""
    token = verified_access_token(raw, request)
    if token is None:
        return None
    user_id, session_id = token.get(api_settings.USER_ID_CLAIM), token.get(SESSION_CLAIM)
    if not isinstance(user_id, int) or not isinstance(session_id, int | None):
        return None
    if session_id is None:
        return _active_user.first(user_id=user_id)
    return _active_user_in_session.first(user_id=user_id, session_id=session_id)
