"""Events of the accounts app and the realtime frames built from them."""

from apps.accounts.models import User
from conversa.realtime.fanout import realtime_payload

AGENT_STATUS_UPDATED = "agent_status.updated"


def agent_status_data(user: User) -> dict:
    return {
        "user_id": user.pk,
        "name": user.name,
        "status": user.status,
        "status_reason": user.status_reason,
        "changed_at": user.status_changed_at.isoformat(),
    }


@realtime_payload(AGENT_STATUS_UPDATED)
def agent_status_frame(event):
    user = User.objects.filter(pk=event.data["user_id"]).first()
    if user is None:
        return None
    # Teammates see each other's status (for transfers); nobody outside the company does.
    return agent_status_data(user), ["staff"]

# Internal (no frame): the invited person joined; the teams app adds them to the invitation's teams.
INVITATION_ACCEPTED = "invitation.accepted"
