"""An accepted invitation puts its new user in the invitation's teams (accounts sits below teams,
so it announces the acceptance and this listener does the joining)."""

from django_tenants.utils import schema_context

from apps.accounts.events import INVITATION_ACCEPTED
from apps.accounts.models import User
from apps.teams.models import Team
from apps.teams.services import team_member_set
from conversa.events import Event, subscribe


@subscribe
def join_invited_teams(event: Event) -> None:
    if event.name != INVITATION_ACCEPTED or not event.data.get("team_ids"):
        return
    with schema_context(event.schema_name):
        user = User.objects.filter(pk=event.data["user_id"], is_active=True).first()
        if user is None:
            return
        # A team deleted since the invitation was sent is skipped.
        for team in Team.objects.filter(pk__in=event.data["team_ids"]):
            team_member_set(actor=None, team=team, user=user)
