"""`/api/v1/auth/…`: login (with the second factor), token refresh, logout, the signed-in user and
their status, two-factor set-up."""

from datetime import datetime

from ninja import Router, Schema, Status

from apps.accounts import device_sessions, services, two_factor
from apps.accounts.tokens import SESSION_CLAIM, TenantAccessToken
from conversa.request_meta import client_ip
from ninja_api.auth import current_user
from ninja_api.schemas import LoginIn, LoginOut, RefreshIn, TokenPairOut, UserOut

router = Router(tags=["auth"])


class LoginWithTwoFactorOut(LoginOut):
    # True when the company requires two-factor sign-in and this user has not set it up: until they
    # do (`/auth/2fa/setup`, `/auth/2fa/enable`), every other call answers 403
    # `two_factor_setup_required`.
    two_factor_setup_required: bool


@router.post("/login", auth=None, response=LoginWithTwoFactorOut)
def login(request, payload: LoginIn):
    """`otp` is needed once the user has two-factor on (a TOTP code or an unused backup code):
    without it 401 `otp_required`, a wrong one 401 `otp_invalid` (429 after too many)."""
    user, refresh = services.session_start(
        email=payload.email, password=payload.password, otp=payload.otp, ip=client_ip(request),
        request=request,
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh), "user": user,
            "two_factor_setup_required": two_factor.setup_pending(user, getattr(request, "tenant", None))}


@router.post("/refresh", auth=None, response=TokenPairOut)
def refresh(request, payload: RefreshIn):
    token = services.session_refresh(refresh=payload.refresh, request=request)
    return {"access": str(token.access_token), "refresh": str(token)}


@router.post("/logout", response={204: None})
def logout(request, payload: RefreshIn):
    services.session_end(refresh=payload.refresh, user=current_user(request))
    return Status(204, None)


@router.get("/me", response=UserOut)
def me(request):
    return current_user(request)


class MeIn(Schema):
    name: str | None = None
    language: str | None = None


@router.patch("/me", response=UserOut)
def update_me(request, payload: MeIn):
    user = current_user(request)
    return services.user_update(user=user, actor=user, **payload.dict(exclude_unset=True))


class StatusIn(Schema):
    status: str
    reason: str = ""


@router.post("/me/status", response=UserOut)
def set_status(request, payload: StatusIn):
    return services.user_set_status(
        user=current_user(request), status=payload.status, reason=payload.reason,
    )


# --- two-factor ---------------------------------------------------------------------------------

class TwoFactorStateOut(Schema):
    enabled: bool
    required_by_company: bool
    backup_codes_left: int


class TwoFactorSetupOut(Schema):
    secret: str
    otpauth_url: str


class CodeIn(Schema):
    code: str


class BackupCodesOut(Schema):
    backup_codes: list[str]


class TwoFactorDisableIn(Schema):
    password: str
    code: str


@router.get("/2fa", response=TwoFactorStateOut)
def two_factor_state(request):
    user = current_user(request)
    return {"enabled": two_factor.is_on(user), "required_by_company": two_factor.company_requires(),
            "backup_codes_left": two_factor.backup_codes_left(user)}


@router.post("/2fa/setup", response=TwoFactorSetupOut)
def two_factor_setup(request):
    """A new secret and its `otpauth://` URL for an authenticator app; nothing changes at sign-in
    until `/2fa/enable` confirms a code."""
    secret, url = two_factor.two_factor_setup(user=current_user(request))
    return {"secret": secret, "otpauth_url": url}


@router.post("/2fa/enable", response=BackupCodesOut)
def two_factor_enable(request, payload: CodeIn):
    """Turn two-factor on with a current code; the 10 backup codes are returned this once."""
    codes = two_factor.two_factor_enable(user=current_user(request), code=payload.code, request=request)
    return {"backup_codes": codes}


@router.post("/2fa/disable", response={204: None})
def two_factor_disable(request, payload: TwoFactorDisableIn):
    two_factor.two_factor_disable(user=current_user(request), password=payload.password,
                                  code=payload.code, request=request)
    return Status(204, None)


# --- device sessions ----------------------------------------------------------------------------

class DeviceSessionOut(Schema):
    id: int
    user_agent: str
    ip: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


class DeviceSessionPage(Schema):
    items: list[DeviceSessionOut]
    next_cursor: str | None = None


class RevokedOut(Schema):
    revoked: int


def _current_session_id(request) -> int | None:
    """The device session of the access token this request carries (None for other tokens)."""
    _scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    return TenantAccessToken(raw.strip()).get(SESSION_CLAIM)  # verified by the API's auth already


@router.get("/sessions", response=DeviceSessionPage)
def list_sessions(request):
    """The signed-in user's devices (one per login, followed through refreshes), newest use first.
    A user has few: the list is never paged (`next_cursor` is always null)."""
    user = current_user(request)
    current = _current_session_id(request)
    sessions = device_sessions.device_sessions_of(user)[:200]
    return {"items": [{**_session_fields(session), "current": session.pk == current} for session in sessions]}


def _session_fields(session) -> dict:
    return {field: getattr(session, field) for field in
            ("id", "user_agent", "ip", "created_at", "last_used_at", "expires_at")}


@router.delete("/sessions/{int:session_id}", response={204: None})
def revoke_session(request, session_id: int):
    """Sign one device out: its refresh token and its access tokens are refused from now on."""
    device_sessions.device_session_revoke(user=current_user(request), session_id=session_id)
    return Status(204, None)


@router.post("/sessions/revoke-others", response=RevokedOut)
def revoke_other_sessions(request):
    """Sign out every device but the one asking."""
    user = current_user(request)
    count = device_sessions.device_sessions_revoke_others(user=user, keep_id=_current_session_id(request))
    return {"revoked": count}
