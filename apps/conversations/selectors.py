"""Reads of conversations, with the visibility rules of each role."""

import datetime as dt

from django.db.models import Q, QuerySet

from apps.accounts.models import ApiKey, User
from apps.conversations.models import Conversation, Message
from conversa.errors import NotFound


def conversations_visible_to(principal: User | ApiKey) -> QuerySet[Conversation]:
    """Agents see conversations assigned to them and unassigned ones; everyone else sees all."""
    conversations = Conversation.objects.select_related("contact", "inbox")
    if isinstance(principal, User) and principal.role == User.Role.AGENT:
        conversations = conversations.filter(Q(assignee=principal) | Q(assignee__isnull=True))
    return conversations


def conversation_get_for(principal: User | ApiKey, conversation_id: int) -> Conversation:
    conversation = conversations_visible_to(principal).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound()
    return conversation


def user_may_see(user: User, conversation: Conversation) -> bool:
    return user.role != User.Role.AGENT or conversation.assignee_id in (None, user.pk)


def conversation_list(
    principal: User | ApiKey,
    *,
    status: str | None = None,
    assignee: str | None = None,
    inbox: int | None = None,
    label: str | None = None,
    priority: str | None = None,
    unread: bool | None = None,
    q: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Conversation]:
    conversations = conversations_visible_to(principal)
    if status:
        conversations = conversations.filter(status__in=status.split(","))
    if assignee == "me" and isinstance(principal, User):
        conversations = conversations.filter(assignee=principal)
    elif assignee == "none":
        conversations = conversations.filter(assignee__isnull=True)
    elif assignee and assignee.isdigit():
        conversations = conversations.filter(assignee_id=int(assignee))
    if inbox:
        conversations = conversations.filter(inbox_id=inbox)
    if label:
        conversations = conversations.filter(labels__contains=[label])
    if priority:
        conversations = conversations.filter(priority=priority)
    if unread is not None:
        conversations = (
            conversations.filter(unread_count__gt=0) if unread else conversations.filter(unread_count=0)
        )
    if since:
        conversations = conversations.filter(last_message_at__gte=since)
    if until:
        conversations = conversations.filter(last_message_at__lt=until)
    if q:
        conversations = conversations.filter(
            Q(contact__name__icontains=q) | Q(contact__phone__icontains=q) | Q(subject__icontains=q)
        )
    return conversations


def messages_of(conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.filter(deleted_at__isnull=True).select_related("reply_to", "media")
