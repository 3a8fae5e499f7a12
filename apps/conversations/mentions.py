"""@mentions in internal notes, and the notification of whoever is mentioned.

The note composer inserts a mention as `@[Ana Souza](user:12)` when the agent picks a colleague
from its list; that is what is stored, and it is shown as `@Ana Souza`. The user id makes a mention
unambiguous (two colleagues may share a name, and a name may change after the note was written),
and a stray "@ana" typed by hand is just text: nobody is notified by a guess.

A mentioned user is notified once per note (however often they are named), in their own language,
and only when they are active, are not the note's author, and may see the conversation; anyone
else named in the text learns nothing of it.
"""

import re

from django.utils import translation
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.conversations.models import Conversation, Note
from apps.conversations.selectors import may_see_conversation
from apps.notifications.services import notify

MENTION_RE = re.compile(r"@\[([^\[\]\n]{1,100})\]\(user:(\d{1,12})\)")
BODY_LENGTH = 300


def mentioned_user_ids(text: str) -> list[int]:
    """The ids mentioned in `text`, each once, in order of first mention."""
    return list(dict.fromkeys(int(match.group(2)) for match in MENTION_RE.finditer(text or "")))


def plain(text: str) -> str:
    """The text as read: each mention as `@Name`."""
    return MENTION_RE.sub(lambda match: f"@{match.group(1)}", text or "")


def mentions_notify(*, note: Note, conversation: Conversation) -> list[int]:
    """Notify the users the note mentions who may see the conversation (in the caller's
    transaction); returns their ids."""
    ids = [pk for pk in mentioned_user_ids(note.text) if pk != note.author_id]
    if not ids:
        return []
    users = User.objects.filter(pk__in=ids, is_active=True)
    author = note.author.name or note.author.email if note.author else ""
    contact = conversation.contact.name or conversation.contact.phone
    notified = []
    for user in users:
        if not may_see_conversation(user, conversation):
            continue
        with translation.override(user.language or None):
            title = _("%(author)s mentioned you in a note on the conversation with %(contact)s") % {
                "author": author, "contact": contact}
        notify(users=[user], kind="mention", title=str(title), body=plain(note.text)[:BODY_LENGTH],
               data={"conversation_id": conversation.pk, "note_id": note.pk})
        notified.append(user.pk)
    return notified
