"""The team chat page: a shell the page script fills through `/api/v1/team-chat` and the socket.

The page signs its API calls with the same short-lived access token as its websocket
(`web:realtime-token`), so the API's rules (members only, owners manage) are the page's rules.
"""

from django.db import connection
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.teamchat.selectors import colleagues_of
from apps.web.auth import action_required
from conversa.realtime.presence import online_user_ids

SECTION = {"section": "team_chat"}


def chat_strings() -> dict:
    """The page script's words, in the user's language."""
    return {
        "messageDeleted": _("Message deleted"),
        "edited": _("edited"),
        "reply": _("Reply"),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "thread": _("Thread"),
        "replies": _("Thread (%(count)s)"),
        "replyingTo": _("Replying to %(name)s"),
        "typingIn": _("%(name)s is typing…"),
        "scanning": _("Scanning the file…"),
        "infected": _("This file was infected and was not sent."),
        "rejected": _("This file was rejected and was not sent."),
        "download": _("Download"),
        "confirmDelete": _("Delete this message?"),
        "noMessages": _("No messages yet. Say hello!"),
        "noResults": _("No messages match."),
        "online": _("Online"),
        "offline": _("Offline"),
        "members": _("Members"),
        "leave": _("Leave"),
        "remove": _("Remove"),
        "add": _("Add"),
        "unread": _("unread"),
        "failed": _("Something went wrong. Try again."),
        "older": _("Older messages"),
    }


@action_required("team_chat.use")
@require_GET
def team_chat_view(request):
    if not request.tenant.plan.has_feature("team_chat"):
        return render(request, "web/teamchat/not_in_plan.html", SECTION, status=403)
    online = online_user_ids(connection.schema_name)
    colleagues = [
        {"id": user.pk, "name": user.name or user.email, "email": user.email, "online": user.pk in online}
        for user in colleagues_of(request.user)
    ]
    return render(request, "web/teamchat/page.html", {
        **SECTION, "colleagues": colleagues, "chat_strings": chat_strings(),
        "others": [c for c in colleagues if c["id"] != request.user.pk],
    })
