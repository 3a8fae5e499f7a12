"""Reads of teams and memberships."""

from django.db.models import Prefetch, QuerySet

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.inboxes.models import Inbox
from apps.teams.models import Team, TeamMember
from conversa.errors import NotFound
from conversa.prepared import PreparedRead

_CACHE = "_conversa_team_ids"


# Every request of an agent asks it (the visibility selector): compiled once (`conversa.prepared`).
_team_ids_read = PreparedRead(
    lambda user_id: TeamMember.objects.filter(user_id=user_id).order_by().values_list("team_id", flat=True),
    user_id=0,
)


def team_ids_of(user: User) -> frozenset[int]:
    """The teams `user` belongs to, read once per user object (a request, a socket's sign-in):
    every visibility check of the request asks it."""
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = frozenset(_team_ids_read.all(user_id=user.pk))
        setattr(user, _CACHE, cached)
    return cached


def forget_team_ids(user: User) -> None:
    """Drop the cached memberships (after this user object's memberships changed)."""
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)


def teams_visible_to(actor: Actor) -> QuerySet[Team]:
    """Every team of the company, with members and inbox ids, for whoever may read teams (everyone
    signed in: agents need them to transfer; keys with `conversations:read`)."""
    permissions.check(actor, "teams.read")
    return Team.objects.prefetch_related(
        Prefetch("members", queryset=TeamMember.objects.select_related("user")),
        Prefetch("inboxes", queryset=Inbox.objects.only("id", "default_team_id")),
    )


def team_get_for(actor: Actor, team_id: int) -> Team:
    """The team, or NotFound (also for another company's ids: they do not exist in this schema)."""
    team = teams_visible_to(actor).filter(pk=team_id).first()
    if team is None:
        raise NotFound()
    return team
