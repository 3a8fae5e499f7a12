"""`/api/v1/teams`: teams, their inboxes, hours, SLA targets and members (SPEC §7, §15.1)."""

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.accounts.models import User
from apps.teams import services
from apps.teams.selectors import team_get_for, teams_visible_to
from apps.teams.validation import MAX_SLA_SECONDS
from conversa.errors import NotFound, ValidationFailed
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["teams"])

Routing = Literal["manual", "round_robin", "least_busy"]
HOURS_HELP = (
    '{"timezone": "America/Sao_Paulo", "days": {"mon": [["09:00", "18:00"]], …}, '
    '"holidays": ["2026-12-25"]}; null or {}: always open; a weekday left out is closed.'
)


class MemberOut(Schema):
    user_id: int
    name: str
    email: str
    role: str
    status: str
    capacity: int
    priority: int
    skills: list[str]

    @staticmethod
    def resolve_name(member):
        return member.user.name

    @staticmethod
    def resolve_email(member):
        return member.user.email

    @staticmethod
    def resolve_role(member):
        return member.user.role

    @staticmethod
    def resolve_status(member):
        return member.user.status


class Sla(Schema):
    first_response_seconds: int | None = None
    resolution_seconds: int | None = None


class SlaIn(Schema):
    """Seconds within business hours; null: no target. A key left out of a PATCH keeps its target."""

    model_config = {"extra": "forbid"}

    first_response_seconds: int | None = Field(None, ge=1, le=MAX_SLA_SECONDS)
    resolution_seconds: int | None = Field(None, ge=1, le=MAX_SLA_SECONDS)


class TeamOut(Schema):
    id: int
    name: str
    routing: str
    inbox_ids: list[int]
    business_hours: dict
    sla: Sla
    offline_message: str
    members: list[MemberOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_inbox_ids(team):
        return sorted(inbox.pk for inbox in team.inboxes.all())

    @staticmethod
    def resolve_sla(team):
        return {
            "first_response_seconds": team.sla_first_response_seconds,
            "resolution_seconds": team.sla_resolution_seconds,
        }

    @staticmethod
    def resolve_members(team):
        return list(team.members.all())


class TeamPage(Schema):
    items: list[TeamOut]
    next_cursor: str | None


class TeamIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    routing: Routing = "manual"
    inbox_ids: list[int] = Field(default_factory=list)
    business_hours: dict | None = Field(None, description=HOURS_HELP)
    sla: SlaIn | None = None
    offline_message: str = Field("", max_length=4096)


class TeamPatch(Schema):
    # Omitted fields stay as they are; business_hours null means always open, sla null no targets.
    name: str = Field(None, min_length=1, max_length=100)
    routing: Routing = None
    inbox_ids: list[int] = None
    business_hours: dict | None = Field(None, description=HOURS_HELP)
    sla: SlaIn | None = None
    offline_message: str = Field(None, max_length=4096)


class MemberIn(Schema):
    user_id: int
    capacity: int | None = Field(None, ge=1, le=100)
    priority: int | None = Field(None, ge=-100, le=100)
    skills: list[str] | None = None


def _team(request, team_id: int):
    """The team with its members and inboxes as they are now (after a write too)."""
    return team_get_for(request.auth, team_id)


@router.get("", response=TeamPage)
def list_teams(request, page: Query[PageParams]):
    return page_of(teams_visible_to(request.auth), page, ordering=("id",))


@router.post("", response={201: TeamOut})
def create_team(request, payload: TeamIn):
    team = services.team_create(actor=request.auth, **payload.dict())
    return Status(201, _team(request, team.pk))


@router.get("/{int:team_id}", response=TeamOut)
def get_team(request, team_id: int):
    return _team(request, team_id)


@router.patch("/{int:team_id}", response=TeamOut)
def update_team(request, team_id: int, payload: TeamPatch):
    team = _team(request, team_id)
    services.team_update(actor=request.auth, team=team, **payload.dict(exclude_unset=True))
    return _team(request, team.pk)


@router.delete("/{int:team_id}", response={204: None})
def delete_team(request, team_id: int):
    services.team_delete(actor=request.auth, team=_team(request, team_id))
    return Status(204, None)


@router.post("/{int:team_id}/members", response={200: TeamOut, 201: TeamOut})
def set_member(request, team_id: int, payload: MemberIn):
    """Add a member (201), or update the membership of one already in the team (200)."""
    team = _team(request, team_id)
    services.check_team_manage(actor=request.auth)
    user = User.objects.filter(pk=payload.user_id).first()
    if user is None:
        raise ValidationFailed(details=[{"field": "user_id", "message": _("No such user.")}])
    added = not team.members.filter(user=user).exists()
    services.team_member_set(actor=request.auth, team=team, user=user, **payload.dict(exclude={"user_id"}))
    return Status(201 if added else 200, _team(request, team.pk))


@router.delete("/{int:team_id}/members/{int:user_id}", response={204: None})
def remove_member(request, team_id: int, user_id: int):
    team = _team(request, team_id)
    if not services.team_member_remove(actor=request.auth, team=team, user_id=user_id):
        raise NotFound()
    return Status(204, None)
