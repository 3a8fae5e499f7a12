"""Conversations on the websocket: the groups a user's sockets join to receive conversation frames,
and the `conversation` topic a socket may follow when its user may see the conversation (following
its contact along with it: the open conversation shows the contact)."""

from apps.accounts.models import User
from apps.contacts.realtime import CONTACT_TOPIC
from apps.conversations.models import Conversation
from apps.conversations.selectors import audiences_of, may_see_conversation
from conversa.realtime.audiences import register_audiences
from conversa.realtime.topics import register_companions, register_topic

register_audiences(audiences_of)


@register_topic("conversation")
def may_follow_conversation(user_id: int, ref: str) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    conversation = Conversation.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    return None not in (user, conversation) and may_see_conversation(user, conversation)


@register_companions("conversation")
def conversation_contact(ref: str) -> list[tuple[str, int]]:
    contact_id = (Conversation.objects.filter(pk=int(ref)).values_list("contact_id", flat=True).first()
                  if ref.isdigit() else None)
    return [(CONTACT_TOPIC, contact_id)] if contact_id else []
