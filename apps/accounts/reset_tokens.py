"""Password reset links: Django's HMAC token over the user's password hash, last login, email and
this company's schema (single use, expiring after PASSWORD_RESET_TIMEOUT, useless on another
company's host; nothing stored), and the email that carries one."""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import connection
from django.utils.http import base36_to_int, int_to_base36

from apps.accounts.models import User
from apps.mail.services import email_queue

RESET_PATH = "/app/password/reset/{token}/"


class TenantResetTokens(PasswordResetTokenGenerator):
    key_salt = "conversa.accounts.passwords.TenantResetTokens"

    def _make_hash_value(self, user, timestamp):
        return f"{connection.schema_name}:{super()._make_hash_value(user, timestamp)}"


reset_tokens = TenantResetTokens()


def reset_token_for(user: User) -> str:
    return f"{int_to_base36(user.pk)}-{reset_tokens.make_token(user)}"


def user_of_reset_token(token: str) -> User | None:
    uid, _sep, rest = (token or "").partition("-")
    try:
        user_id = base36_to_int(uid)
    except ValueError:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not reset_tokens.check_token(user, rest):
        return None
    return user


def password_reset_email(*, email: str, base_url: str | None) -> bool:
    """Email a reset link to the active user with this address, if any (False: nobody)."""
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return False
    email_queue(
        kind="password_reset", to=user.email, language=user.language, base_url=base_url, sensitive=True,
        link_path=RESET_PATH.format(token=reset_token_for(user)),
        context={"email": user.email, "minutes": settings.PASSWORD_RESET_TIMEOUT // 60},
    )
    return True
