"""Turning credentials (access tokens, API keys) into a principal, in the current schema."""

from ninja_jwt.exceptions import TokenError
from ninja_jwt.settings import api_settings

from apps.accounts.models import User
from apps.accounts.tokens import SESSION_CLAIM, TenantAccessToken


def user_for_access_token(raw: str) -> User | None:
    """The active user an access token of this schema names, or None; a token of a device session
    that was revoked (signed out, deactivated) is refused at once. One query."""
    try:
        token = TenantAccessToken(raw)
    except TokenError:
        return None
    users = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM), is_active=True)
    session_id = token.get(SESSION_CLAIM)
    if session_id is not None:
        users = users.filter(device_sessions__pk=session_id, device_sessions__revoked_at__isnull=True)
    return users.first()
