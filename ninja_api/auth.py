"""Authentication for the APIs: JWTs and API keys on tenant hosts, super-admin JWTs on the platform.

All lookups happen in the schema of the request's host, so credentials of one company are unknown
on any other host.
"""

from django.db import connection
from django.utils.translation import gettext_lazy as _
from ninja.security import HttpBearer

from apps.accounts import two_factor
from apps.accounts.api_keys import api_key_from_request, raw_key_from_request
from apps.accounts.authentication import user_for_access_token
from apps.accounts.models import User
from conversa.errors import Forbidden, TokenInvalid
from conversa.sentry import tag_user

# What a user may still do while their company requires two-factor and they have not set it up.
TWO_FACTOR_SETUP_PATHS = ("/api/v1/auth/2fa", "/api/v1/auth/me", "/api/v1/auth/logout")


class TenantAuth(HttpBearer):
    """`Authorization: Bearer <access token | API key>` or `X-Api-Key: <key>`."""

    def __call__(self, request):
        if raw_key_from_request(request):
            key = api_key_from_request(request)
            if key is None:
                raise TokenInvalid(_("The API key is invalid, expired or revoked."))
            tag_user(f"api-key:{key.pk}")
            return key
        return super().__call__(request)

    def authenticate(self, request, token):
        user = user_for_access_token(token, request)
        if user is None:
            raise TokenInvalid()
        company = getattr(request, "tenant", None)
        if (company is not None and company.require_two_factor
                and not request.path.startswith(TWO_FACTOR_SETUP_PATHS) and not two_factor.is_on(user)):
            raise two_factor.TwoFactorSetupRequired()
        request.user = user
        tag_user(user.pk)
        return user


class PlatformAuth(HttpBearer):
    def authenticate(self, request, token):
        if connection.schema_name != "public":
            raise TokenInvalid()
        user = user_for_access_token(token, request)
        if user is None or not user.is_superuser:
            raise TokenInvalid()
        request.user = user
        tag_user(user.pk)
        return user


def current_user(request) -> User:
    """The signed-in user; API keys are refused (for actions only people may take)."""
    if not isinstance(request.auth, User):
        raise Forbidden(_("This action needs a signed-in user, not an API key."))
    return request.auth
