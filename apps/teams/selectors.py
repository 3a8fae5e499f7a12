"""Reads of teams and memberships."""

from apps.accounts.models import User
from apps.teams.models import TeamMember

_CACHE = "_conversa_team_ids"


def team_ids_of(user: User) -> frozenset[int]:
    """The teams `user` belongs to, read once per user object (a request, a socket's sign-in):
    every visibility check of the request asks it."""
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = frozenset(TeamMember.objects.filter(user_id=user.pk).values_list("team_id", flat=True))
        setattr(user, _CACHE, cached)
    return cached


def forget_team_ids(user: User) -> None:
    """Drop the cached memberships (after this user object's memberships changed)."""
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)
