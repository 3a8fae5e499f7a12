"""Team chat on the socket: message and room frames to members, the room topic for typing."""

from apps.accounts.models import User
from apps.teamchat.events import (
    MESSAGE_CREATED,
    MESSAGE_DELETED,
    MESSAGE_UPDATED,
    ROOM_TOPIC,
    ROOM_UPDATED,
    message_audience,
    message_data,
    room_data,
)
from apps.teamchat.models import Membership, Message, Room
from apps.teamchat.selectors import check_team_chat, is_member
from conversa.errors import DomainError
from conversa.events import Event, subscribe
from conversa.realtime.fanout import realtime_payloads
from conversa.realtime.topics import register_topic, revoke


def _message_frames(events: list[Event]):
    found = Message.objects.select_related("author", "media", "reply_to", "reply_to__author").in_bulk(
        {event.data["message_id"] for event in events}
    )
    frames = []
    for event in events:
        message = found.get(event.data["message_id"])
        if message is None:
            frames.append(None)
            continue
        audience = message_audience(message)
        frames.append((message_data(message), audience) if audience else None)
    return frames


for _name in (MESSAGE_CREATED, MESSAGE_UPDATED, MESSAGE_DELETED):
    realtime_payloads(_name)(_message_frames)


def _room_frames(events: list[Event]):
    frames = []
    for event in events:
        room = Room.objects.filter(pk=event.data["room_id"]).first()
        if room is None:
            frames.append(None)
            continue
        member_ids = list(
            Membership.objects.filter(room=room, left_at__isnull=True).values_list("user_id", flat=True)
        )
        members = list(User.objects.filter(pk__in=member_ids).order_by("name", "email"))
        built = []
        if members:
            built.append((room_data(room, members), [f"user.{user.pk}" for user in members]))
        removed = [user_id for user_id in event.data.get("removed_user_ids", []) if user_id not in member_ids]
        if removed:
            # Whoever left learns only that the room is gone for them, to drop it from their list.
            built.append(({"id": room.pk, "removed": True}, [f"user.{user_id}" for user_id in removed]))
        frames.append(built or None)
    return frames


realtime_payloads(ROOM_UPDATED)(_room_frames)


@register_topic(ROOM_TOPIC)
def may_follow_room(user_id: int, ref: str) -> bool:
    """Members of the room, in a company whose plan has team chat."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not ref.isdigit():
        return False
    try:
        check_team_chat(user)
    except DomainError:
        return False
    return is_member(user_id, int(ref))


@subscribe
def revoke_room_topic_of_removed_members(event: Event) -> None:
    """A removed member's sockets leave the room's topic at once (no more typing from it)."""
    if event.name != ROOM_UPDATED:
        return
    for user_id in event.data.get("removed_user_ids", []):
        revoke(event.schema_name, user_id, ROOM_TOPIC, event.data["room_id"])

