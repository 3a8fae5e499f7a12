"""Reads of team chat: a room and its messages exist only for the room's current members.

Everyone else (another user of the company, an admin included, or anyone of another company) gets
404 for a room, on every door: the API, the agents' UI and the socket's room topic.
"""

from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.contacts.search import accent_free_contains
from apps.teamchat.models import Membership, Message, Room
from conversa.errors import NotFound
from tenants.limits import ensure_feature
from tenants.models import Company


def check_team_chat(actor: Actor | None) -> None:
    """People of a company whose plan has team chat; never an API key (403)."""
    permissions.check(actor, "team_chat.use")
    company = Company.objects.select_related("plan").get(schema_name=connection.schema_name)
    ensure_feature(company, "team_chat")


def rooms_of(actor: Actor) -> QuerySet[Room]:
    """The rooms `actor` is a member of now."""
    check_team_chat(actor)
    return Room.objects.filter(memberships__user=actor, memberships__left_at__isnull=True)


def room_get_for(actor: Actor, room_id: int) -> Room:
    room = rooms_of(actor).filter(pk=room_id).first()
    if room is None:
        raise NotFound()
    return room


def is_member(user_id: int, room_id: int) -> bool:
    return Membership.objects.filter(room_id=room_id, user_id=user_id, left_at__isnull=True).exists()


def member_ids(room_id: int) -> list[int]:
    return list(
        Membership.objects.filter(room_id=room_id, left_at__isnull=True).order_by("user_id")
        .values_list("user_id", flat=True)
    )


def visible_messages(room: Room, user: User) -> QuerySet[Message]:
    """The room's messages `user` sees: everyone's once released, their own held ones too."""
    return (
        Message.objects.filter(room=room)
        .filter(Q(held=False) | Q(author=user))
        .select_related("author", "media", "reply_to", "reply_to__author")
    )


def messages_for(room: Room, user: User, *, q: str | None = None,
                 thread: int | None = None) -> QuerySet[Message]:
    """`?q=`: accent- and case-blind text search (deleted messages never match); `?thread=`: the
    message and its replies."""
    messages = visible_messages(room, user)
    if q and q.strip():
        messages = messages.filter(accent_free_contains("text", q.strip()), deleted_at__isnull=True)
    if thread is not None:
        messages = messages.filter(Q(pk=thread) | Q(reply_to_id=thread))
    return messages


def message_get_for(room: Room, user: User, message_id: int) -> Message:
    message = visible_messages(room, user).filter(pk=message_id).first()
    if message is None:
        raise NotFound()
    return message


def colleagues_of(actor: Actor) -> QuerySet[User]:
    """Who `actor` may chat with: the company's active users."""
    check_team_chat(actor)
    return User.objects.filter(is_active=True).order_by("name", "email")


def room_list(actor: Actor) -> QuerySet[Room]:
    """The actor's rooms, each with `unread_count` (theirs) and `active_memberships` (with users)."""
    rooms = rooms_of(actor)
    mine = Membership.objects.filter(room=OuterRef("pk"), user=actor, left_at__isnull=True)
    return rooms.annotate(
        unread_count=Subquery(mine.values("unread_count")[:1]),
    ).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.filter(left_at__isnull=True)
                 .select_related("user").order_by("user__name", "user__email"),
                 to_attr="active_memberships"),
    )


def with_reply_counts(messages: QuerySet[Message]) -> QuerySet[Message]:
    return messages.annotate(
        reply_count=Count("replies", filter=Q(replies__deleted_at__isnull=True, replies__held=False)),
    )


def unread_total(user: User) -> int:
    """What `user` has not read in all their rooms (the navigation's badge)."""
    total = Membership.objects.filter(user=user, left_at__isnull=True).aggregate(total=Sum("unread_count"))
    return total["total"] or 0
