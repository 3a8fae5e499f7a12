"""Conversations on the websocket: the groups a user's sockets join to receive conversation frames,
and the `conversation` topic a socket may follow when its user may see the conversation."""

from apps.accounts.models import User
from apps.conversations.models import Conversation
from apps.conversations.selectors import audiences_of, may_see_conversation
from conversa.realtime.audiences import register_audiences
from conversa.realtime.topics import register_topic

register_audiences(audiences_of)


@register_topic("conversation")
def may_follow_conversation(user_id: int, ref: str) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    conversation = Conversation.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    return None not in (user, conversation) and may_see_conversation(user, conversation)
