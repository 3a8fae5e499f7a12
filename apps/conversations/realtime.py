"""The `conversation` realtime topic: a socket may follow a conversation its user may see."""

from apps.accounts.models import User
from apps.conversations.models import Conversation
from apps.conversations.selectors import user_may_see
from conversa.realtime.topics import register_topic


@register_topic("conversation")
def may_follow_conversation(user: User, ref: str) -> bool:
    conversation = Conversation.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    return conversation is not None and user_may_see(user, conversation)
