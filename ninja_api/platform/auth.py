"""`/platform/api/v1/auth/…`: super-admin login and refresh (public schema only)."""

from ninja import Router

from apps.accounts import services
from conversa.request_meta import client_ip
from ninja_api.schemas import LoginIn, RefreshIn, TokenPairOut

router = Router(tags=["platform auth"])


@router.post("/login", auth=None, response=TokenPairOut)
def login(request, payload: LoginIn):
    _, refresh = services.session_start(
        email=payload.email, password=payload.password, otp=payload.otp, ip=client_ip(request),
        request=request,
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@router.post("/refresh", auth=None, response=TokenPairOut)
def refresh(request, payload: RefreshIn):
    token = services.session_refresh(refresh=payload.refresh)
    return {"access": str(token.access_token), "refresh": str(token)}
