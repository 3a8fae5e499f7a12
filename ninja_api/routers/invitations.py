"""`/api/v1/users/invitations` (admins invite, resend, revoke) and `/api/v1/auth/invitations/accept`
(the invited person sets name and password and is signed in)."""

from datetime import datetime
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import EmailStr, Field

from apps.accounts import invitations
from apps.accounts.tokens import TenantRefreshToken
from apps.teams.selectors import teams_visible_to
from conversa.errors import ValidationFailed
from ninja_api.pagination import PageParams, page_of
from ninja_api.schemas import LoginOut

router = Router(tags=["invitations"])
accept_router = Router(tags=["auth"])


class InvitationIn(Schema):
    email: EmailStr
    role: Literal["admin", "supervisor", "agent"] = "agent"
    team_ids: list[int] = Field(default_factory=list, max_length=100)
    language: Literal["en", "es", "pt-br", "pt-BR"] | None = None


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    team_ids: list[int]
    language: str
    status: str
    invited_by_id: int | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationPage(Schema):
    items: list[InvitationOut]
    next_cursor: str | None


class AcceptIn(Schema):
    token: str = Field(max_length=200)
    name: str = Field(max_length=1000)
    password: str = Field(max_length=1000)


def _base_url(request) -> str:
    """Links go to the host the admin is on (the host middleware admits only known hosts)."""
    return request.build_absolute_uri("/")


def _checked_team_ids(actor, team_ids: list[int]) -> list[int]:
    """Teams sit above accounts: the ids are checked here against the teams the actor may see."""
    wanted = set(team_ids)
    if not wanted:
        return []
    found = set(teams_visible_to(actor).filter(pk__in=wanted).values_list("pk", flat=True))
    if missing := sorted(wanted - found):
        raise ValidationFailed(details=[{"field": "team_ids", "message": _("Unknown teams: %(ids)s") % {
            "ids": ", ".join(map(str, missing))}}])
    return sorted(found)


@router.get("", response=InvitationPage)
def list_invitations(request, page: Query[PageParams], status: Literal["pending", "all"] = "pending"):
    if status == "pending":
        found = invitations.pending_invitations_visible_to(request.auth)
    else:
        found = invitations.invitations_visible_to(request.auth)
    return page_of(found, page, ordering=("-id",))


@router.post("", response={201: InvitationOut})
def create_invitation(request, payload: InvitationIn):
    invitations.invitations_visible_to(request.auth)  # refuse non-admins before looking at teams
    invitation = invitations.invitation_create(
        actor=request.auth, email=payload.email, role=payload.role,
        team_ids=_checked_team_ids(request.auth, payload.team_ids),
        language=(payload.language or "").lower(), base_url=_base_url(request),
    )
    return Status(201, invitation)


@router.post("/{int:invitation_id}/resend", response=InvitationOut)
def resend_invitation(request, invitation_id: int):
    invitation = invitations.invitation_get_for(request.auth, invitation_id)
    return invitations.invitation_resend(
        actor=request.auth, invitation=invitation, base_url=_base_url(request),
    )


@router.delete("/{int:invitation_id}", response=InvitationOut)
def revoke_invitation(request, invitation_id: int):
    invitation = invitations.invitation_get_for(request.auth, invitation_id)
    return invitations.invitation_revoke(actor=request.auth, invitation=invitation)


@accept_router.post("/accept", auth=None, response=LoginOut)
def accept_invitation(request, payload: AcceptIn):
    user = invitations.invitation_accept(token=payload.token, name=payload.name, password=payload.password)
    refresh = TenantRefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh), "user": user}
