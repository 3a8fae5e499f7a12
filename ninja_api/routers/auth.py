"""`/api/v1/auth/…`: login, token refresh, logout, the signed-in user and their status."""

from ninja import Router, Schema, Status

from apps.accounts import services
from conversa.request_meta import client_ip
from ninja_api.auth import current_user
from ninja_api.schemas import LoginIn, LoginOut, RefreshIn, TokenPairOut, UserOut

router = Router(tags=["auth"])


@router.post("/login", auth=None, response=LoginOut)
def login(request, payload: LoginIn):
    user, refresh = services.session_start(
        email=payload.email, password=payload.password, ip=client_ip(request), request=request,
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh), "user": user}


@router.post("/refresh", auth=None, response=TokenPairOut)
def refresh(request, payload: RefreshIn):
    token = services.session_refresh(refresh=payload.refresh)
    return {"access": str(token.access_token), "refresh": str(token)}


@router.post("/logout", response={204: None})
def logout(request, payload: RefreshIn):
    current_user(request)
    services.session_end(refresh=payload.refresh)
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
