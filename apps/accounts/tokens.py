"""JWTs bound to the company that issued them.

ninja-jwt knows nothing of tenants: without the `tenant` claim a token of company A would
authenticate B's user with the same id on B's host. Every token carries the schema it was issued
in and is refused anywhere else.
"""

from django.db import connection
from django.utils.translation import gettext_lazy as _
from ninja_jwt.exceptions import TokenError
from ninja_jwt.settings import api_settings
from ninja_jwt.token_blacklist.models import OutstandingToken
from ninja_jwt.tokens import AccessToken, RefreshToken
from ninja_jwt.utils import datetime_from_epoch

TENANT_CLAIM = "tenant"
# The device session (apps.accounts.models.DeviceSession) a refresh token and its access tokens
# belong to: revoking the session refuses them all.
SESSION_CLAIM = "sid"


class TenantBoundToken:
    def verify(self):
        # Checked first: a foreign token must not even reach this schema's blacklist table.
        if self.payload.get(TENANT_CLAIM) != connection.schema_name:
            raise TokenError(_("Token is not valid for this company."))
        super().verify()


class TenantAccessToken(TenantBoundToken, AccessToken):
    pass


class TenantRefreshToken(TenantBoundToken, RefreshToken):
    access_token_class = TenantAccessToken

    @classmethod
    def for_user(cls, user, session_id: int | None = None):
        """A refresh token for `user` in the current schema, recorded as outstanding."""
        token = cls()
        token[api_settings.USER_ID_CLAIM] = user.pk
        token[TENANT_CLAIM] = connection.schema_name
        if session_id is not None:
            token[SESSION_CLAIM] = session_id
        OutstandingToken.objects.create(
            user=user,
            jti=token[api_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        return token


def access_token_for(user) -> TenantAccessToken:
    """A short-lived access token for `user` in the current schema (the web UI's websocket)."""
    token = TenantAccessToken()
    token[api_settings.USER_ID_CLAIM] = user.pk
    token[TENANT_CLAIM] = connection.schema_name
    return token


def verified_access_token(raw: str, request=None) -> TenantAccessToken | None:
    """`raw` as an access token of this company (signature, expiry and company checked), or None.

    With the request, decoded once for it: its rate limits and its authentication both read it.
    """
    memo = getattr(request, "_verified_access_token", None)
    if memo is not None and memo[0] == raw:
        return memo[1]
    try:
        token = TenantAccessToken(raw)
    except TokenError:
        token = None
    if request is not None:
        request._verified_access_token = (raw, token)
    return token
