"""`/api/v1/auth/password/…`: change (signed in), reset request and confirmation (by emailed link)."""

from ninja import Router, Schema, Status
from pydantic import Field

from apps.accounts import passwords
from conversa.request_meta import client_ip
from ninja_api.auth import current_user

router = Router(tags=["auth"])


class ChangeIn(Schema):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)
    # The refresh token of this device, kept alive; every other one is revoked.
    refresh: str | None = Field(None, max_length=2000)


class ResetIn(Schema):
    email: str = Field(max_length=254)


class ResetConfirmIn(Schema):
    token: str = Field(max_length=200)
    new_password: str = Field(max_length=1000)


class Accepted(Schema):
    detail: str


@router.post("/change", response={204: None})
def change_password(request, payload: ChangeIn):
    passwords.password_change(
        user=current_user(request), current_password=payload.current_password,
        new_password=payload.new_password, keep_refresh=payload.refresh,
    )
    return Status(204, None)


@router.post("/reset", auth=None, response={202: Accepted})
def request_reset(request, payload: ResetIn):
    passwords.password_reset_request(
        email=payload.email, ip=client_ip(request), base_url=request.build_absolute_uri("/"),
    )
    return Status(202, {"detail": "If an account has this email, a reset link is on its way."})


@router.post("/reset/confirm", auth=None, response={204: None})
def confirm_reset(request, payload: ResetConfirmIn):
    passwords.password_reset_confirm(token=payload.token, new_password=payload.new_password)
    return Status(204, None)
