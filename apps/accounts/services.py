"""Writes of the accounts app: users, agent status, sessions (JWT) and API keys."""

import datetime as dt

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja_jwt.exceptions import TokenError
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.accounts import api_keys, device_sessions, permissions, throttling, two_factor
from apps.accounts.events import AGENT_STATUS_UPDATED
from apps.accounts.models import AgentStatusPeriod, ApiKey, DeviceSession, User
from apps.accounts.permissions import Actor
from apps.accounts.tokens import SESSION_CLAIM, TenantRefreshToken
from apps.audit.changes import changes_between, created, snapshot
from apps.audit.services import audit_record
from conversa.errors import Conflict, Forbidden, TokenInvalid, ValidationFailed
from conversa.events import publish
from conversa.realtime.close_codes import CLOSE_RESYNC, CLOSE_UNAUTHENTICATED
from conversa.realtime.fanout import close_user_sockets
from tenants import superadmin_totp as console_totp
from tenants.limits import ensure_within_limit, lock_current_company


class InvalidCredentials(TokenInvalid):
    code = "invalid_credentials"
    default_message = _("Email or password is incorrect.")


def _validate_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(
            details=[{"field": "password", "message": str(message)} for message in exc.messages]
        ) from exc


# --- users ----------------------------------------------------------------------------------------

def user_create(
    *, actor: Actor | None, email: str, password: str, name: str = "", role: str = User.Role.AGENT,
    language: str = "en",
) -> User:
    """Create a user of the current company, within the plan's `max_agents` (for whoever may manage
    users; actor None is the system: provisioning, the demo seed).

    Locks the company row, so concurrent creations cannot overshoot the limit together.
    """
    if actor is not None:
        permissions.check(actor, "users.manage")
    email = User.objects.normalize_email(email).lower()
    candidate = User(email=email, name=name, role=role, language=language)
    _validate_password(password, candidate)
    with transaction.atomic():
        company = lock_current_company()
        ensure_within_limit(
            company, "max_agents", used=User.objects.filter(is_active=True).count(),
        )
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(
                _("A user with this email already exists."),
                details=[{"field": "email", "message": str(_("Already in use."))}],
            )
        candidate.set_password(password)
        candidate.save()
        AgentStatusPeriod.objects.create(
            user=candidate, status=candidate.status, started_at=candidate.status_changed_at,
        )
    return candidate


def _check_profile(*, name: str | None, role: str | None, language: str | None) -> None:
    """The UI offers only these; the API must not store what the column or the UI cannot hold."""
    details = []
    if role is not None and role not in User.Role.values:
        details.append({"field": "role", "message": str(_("Unknown role."))})
    if name is not None and len(name) > User._meta.get_field("name").max_length:
        details.append({"field": "name", "message": str(_("At most 150 characters."))})
    # Compared as Django does (the UI writes "pt-BR", the API "pt-br"); stored as given.
    if language is not None and language.lower() not in dict(settings.LANGUAGES):
        details.append({"field": "language", "message": str(
            _("Use one of: %(codes)s.") % {"codes": ", ".join(dict(settings.LANGUAGES))}
        )})
    if details:
        raise ValidationFailed(details=details)


def check_user_update(*, actor: Actor, user: User, role: str | None) -> None:
    """Everyone edits their own profile; other people's, and any role, need `users.manage`."""
    if role is not None and role != user.role:
        if not permissions.may(actor, "users.manage"):
            raise Forbidden(_("Only admins can change roles."))
    elif actor != user:
        permissions.check(actor, "users.manage")


def user_update(*, user: User, actor: Actor, name=None, role=None, language=None) -> User:
    check_user_update(actor=actor, user=user, role=role)
    _check_profile(name=name, role=role, language=language)
    if role is not None and role != user.role:
        if user == actor and role != User.Role.ADMIN:
            raise Forbidden(_("You cannot remove your own admin role."))
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if role is not None and role != user.role:
            audit_record(action="user.role_changed", entity_type="user", entity_id=user.pk, actor=actor,
                         changes=changes_between(user, {"role": role}, ["role"]))
            # Open sockets joined the old role's groups: they reconnect and join the new ones.
            _close_sockets_after_commit(user, CLOSE_RESYNC)
        for field, value in (("name", name), ("role", role), ("language", language)):
            if value is not None:
                setattr(user, field, value)
        user.save()
    return user


def user_deactivate(*, user: User, actor: Actor) -> User:
    """Deactivate (never delete: conversations keep their author); frees a plan seat."""
    permissions.check(actor, "users.manage")
    if user == actor:
        raise Forbidden(_("You cannot deactivate yourself."))
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = snapshot(user, ["is_active"])
        user.is_active = False
        user.save(update_fields=["is_active"])
        # Every device signed out now: refresh tokens blacklisted, their access tokens refused.
        device_sessions.device_sessions_revoke_all(user=user)
        audit_record(action="user.deactivated", entity_type="user", entity_id=user.pk, actor=actor,
                     changes={**changes_between(before, user, ["is_active"]), "email": user.email})
        _close_sockets_after_commit(user, CLOSE_UNAUTHENTICATED)
    return user


def _close_sockets_after_commit(user: User, code: int) -> None:
    schema_name = connection.schema_name
    transaction.on_commit(lambda: close_user_sockets(schema_name, user.pk, code=code))


def user_set_status(*, user: User, status: str, reason: str = "") -> User:
    """Change the agent's status and close the time period of the previous one."""
    if status not in User.Status.values:
        raise ValidationFailed(details=[{"field": "status", "message": str(_("Unknown status."))}])
    if status != User.Status.PAUSED:
        reason = ""
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.status == status and user.status_reason == reason:
            return user
        AgentStatusPeriod.objects.filter(user=user, ended_at__isnull=True).update(ended_at=now)
        AgentStatusPeriod.objects.create(user=user, status=status, reason=reason, started_at=now)
        user.status, user.status_reason, user.status_changed_at = status, reason, now
        user.save(update_fields=["status", "status_reason", "status_changed_at"])
        publish(AGENT_STATUS_UPDATED, {"user_id": user.pk})
    return user


# --- sessions ---------------------------------------------------------------------------------

def _audit_login(*, user: User | None, email: str, reason: str = "", request) -> None:
    """A login, or a failed one with the email as typed and why (`reason`); never the password."""
    if connection.schema_name == "public":
        return  # the platform keeps its own log
    ok = not reason
    audit_record(action="login" if ok else "login_failed", entity_type="user",
                 entity_id=user.pk if user else "", actor=user if ok else None,
                 changes={} if ok else {"email": email.strip()[:254], "reason": reason}, request=request,
                 success=ok)


def _failure_reason(user: User | None, valid_password: bool) -> str:
    if user is None:
        return "unknown_email"
    if not user.is_active:
        return "inactive_user"
    return "wrong_password" if not valid_password else "not_allowed_here"


def credentials_check(
    *, email: str, password: str, ip: str, otp: str | None = None, request=None,
) -> User:
    """The active user of the current schema with these credentials, or InvalidCredentials.

    Throttled per IP and per account; every attempt is audited (failed ones by a hash of the
    email: it may be a stranger's typo). With two-factor on, a right password without `otp` raises
    OtpRequired (carrying the user for the UI's second step) and a wrong code OtpInvalid, throttled
    per account. Used by the API's login and the agents' UI alike.
    """
    user = User.objects.filter(email__iexact=email.strip()).first()
    # The budget of the account found, whatever spelling of its email found it.
    account = throttling.account_key(user=user, email=email)
    throttling.check_login_allowed(ip=ip, account=account)
    password_ok = user is not None and user.check_password(password)
    valid = password_ok and user.is_active
    if user is None:
        User().set_password(password)  # same work whether or not the email exists
    if valid and connection.schema_name == "public" and not user.is_superuser:
        valid = False
    if not valid:
        throttling.record_login_failure(account=account)
        _audit_login(user=user, email=email, reason=_failure_reason(user, password_ok), request=request)
        raise InvalidCredentials()
    if connection.schema_name != "public" and two_factor.is_on(user):
        if not otp:
            raise two_factor.OtpRequired(user=user)
        _second_factor(user=user, otp=otp, request=request)
    _login_succeeded(user=user, request=request)
    return user


def _second_factor(*, user: User, otp: str, request=None) -> None:
    try:
        two_factor.check_code(user=user, code=otp)
    except two_factor.OtpInvalid:
        with transaction.atomic():
            audit_record(action="login_failed", entity_type="user", entity_id=user.pk,
                         changes={"email": user.email, "reason": "otp_invalid"}, request=request,
                         success=False)
        raise


def _login_succeeded(*, user: User, request=None) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
        _audit_login(user=user, email=user.email, request=request)


def second_factor_login(*, user_id: int, otp: str, ip: str, request=None) -> User:
    """The UI's second step: the user whose password was right moments ago, with their code.

    Spends the per-IP login budget and the account's code budget like the API's login.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise InvalidCredentials()
    throttling.check_login_allowed(ip=ip, account=throttling.account_key(user=user))
    _second_factor(user=user, otp=otp, request=request)
    _login_succeeded(user=user, request=request)
    return user


def session_start(
    *, email: str, password: str, ip: str, otp: str | None = None, request=None,
) -> tuple[User, TenantRefreshToken]:
    """Check credentials (and the second factor) in the current schema and issue a refresh token
    bound to it."""
    user = credentials_check(email=email, password=password, ip=ip, otp=otp, request=request)
    if connection.schema_name == "public" and console_totp.totp_is_on(user.pk):
        # The platform API asks a super-admin for the console's second factor too (the console's
        # own sign-in asks for it as its second step).
        if not otp:
            raise two_factor.OtpRequired()
        throttling.check_otp_allowed(user=user)
        if not console_totp.totp_check(user_id=user.pk, code=otp):
            throttling.record_otp_failure(user=user)
            raise two_factor.OtpInvalid()
    return user, device_sessions.device_session_start(user=user, request=request)


def session_refresh(*, refresh: str, request=None) -> TenantRefreshToken:
    """Rotate a refresh token: the old one is blacklisted, a new one issued (one per device); the
    token of a revoked device session is refused."""
    with transaction.atomic():
        try:
            old = TenantRefreshToken(refresh)
        except TokenError as exc:
            raise TokenInvalid() from exc
        user = User.objects.filter(pk=old.get("user_id"), is_active=True).first()
        if user is None:
            raise TokenInvalid()
        # Lock the token's row: of two concurrent refreshes with one token, only one rotates.
        outstanding = (
            OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=old["jti"]).first()
        )
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise TokenInvalid()
        BlacklistedToken.objects.create(token=outstanding)
        token = device_sessions.device_session_rotate(user=user, session_id=old.get(SESSION_CLAIM),
                                                      request=request)
        if token is None:
            raise TokenInvalid()
        return token


def session_end(*, refresh: str, user: User) -> None:
    """Log out the device of this refresh token (the caller's own: another user's is refused)."""
    try:
        token = TenantRefreshToken(refresh)
    except TokenError as exc:
        raise TokenInvalid() from exc
    if token.get("user_id") != user.pk:
        raise TokenInvalid()
    with transaction.atomic():
        token.blacklist()
        if token.get(SESSION_CLAIM) is not None:
            DeviceSession.objects.filter(pk=token[SESSION_CLAIM], user=user).update(revoked_at=timezone.now())


# --- API keys ---------------------------------------------------------------------------------

def api_key_create(
    *, name: str, scopes: list[str], created_by: User, expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key (admins); the full secret is returned here once and never stored."""
    permissions.check(created_by, "api_keys.manage")
    unknown = sorted(set(scopes) - set(ApiKey.SCOPES))
    if unknown:
        raise ValidationFailed(
            details=[{"field": "scopes",
                      "message": str(_("Unknown scopes: %(scopes)s") % {"scopes": ", ".join(unknown)})}]
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            details=[{"field": "expires_at", "message": str(_("Must be in the future."))}]
        )
    prefix, secret, full_key = api_keys.generate_key()
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name, prefix=prefix, secret_hash=api_keys.hash_secret(secret),
            scopes=sorted(set(scopes)), expires_at=expires_at, created_by=created_by,
        )
        audit_record(action="api_key.created", entity_type="api_key", entity_id=key.pk, actor=created_by,
                     changes=created(key, ["name", "prefix", "scopes", "expires_at"]))
    return key, full_key


def api_key_revoke(*, key: ApiKey, actor: User | None) -> ApiKey:
    """Revoke at once (admins; actor None is the system)."""
    if actor is not None:
        permissions.check(actor, "api_keys.manage")
    with transaction.atomic():
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(action="api_key.revoked", entity_type="api_key", entity_id=key.pk, actor=actor,
                         changes={**changes_between(None, key, ["revoked_at"]), "name": key.name,
                                  "prefix": key.prefix})
    return key
