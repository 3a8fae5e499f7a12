"""Events of the teams app and the realtime frames built from them."""

from apps.teams.models import Team
from conversa.realtime.fanout import realtime_payload

TEAM_UPDATED = "team.updated"  # created or changed (its settings, inboxes or members)
TEAM_DELETED = "team.deleted"
# Internal (no frame): a team may take more work now (a member joined or got more capacity), so
# routing, which lives above teams, listens and serves the team's queue.
TEAM_MEMBERS_CHANGED = "team.members_changed"


def team_data(team: Team) -> dict:
    """What every teammate may know of a team: enough for the transfer menu and the team filter."""
    return {
        "id": team.pk,
        "name": team.name,
        "routing": team.routing,
        "member_ids": sorted(member.user_id for member in team.members.all()),
        "inbox_ids": sorted(inbox.pk for inbox in team.inboxes.all()),
    }


@realtime_payload(TEAM_UPDATED)
def team_updated_frame(event):
    team = Team.objects.prefetch_related("members", "inboxes").filter(pk=event.data["team_id"]).first()
    if team is None:
        return None
    return team_data(team), ["staff"]


@realtime_payload(TEAM_DELETED)
def team_deleted_frame(event):
    return {"id": event.data["team_id"], "name": event.data.get("name", "")}, ["staff"]
