"""Turning credentials (access tokens, API keys) into a principal, in the current schema."""

from ninja_jwt.exceptions import TokenError
from ninja_jwt.settings import api_settings

from apps.accounts.models import User
from apps.accounts.tokens import TenantAccessToken


def user_for_access_token(raw: str) -> User | None:
    """The active user an access token of this schema names, or None."""
    try:
        token = TenantAccessToken(raw)
    except TokenError:
        return None
    return User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM), is_active=True).first()
