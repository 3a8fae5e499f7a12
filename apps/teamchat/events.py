"""Event names of team chat and the payloads of its frames, built from fresh rows.

Frames go to the `user.{id}` groups of the room's members as they are when the frame is built: a
user removed from a room gets nothing of it from then on, and nobody outside it ever does. A
message held for its file's scan goes to its author only until the file is clean.
"""

from apps.accounts.models import User
from apps.media.events import media_data
from apps.teamchat.models import Message, Room
from apps.teamchat.selectors import member_ids

MESSAGE_CREATED = "team_chat.message.created"
MESSAGE_UPDATED = "team_chat.message.updated"
MESSAGE_DELETED = "team_chat.message.deleted"
# {"room_id", "removed_user_ids"?}: the room's name, description or members changed.
ROOM_UPDATED = "team_chat.room.updated"
# The room topic sockets subscribe to for typing in a room.
ROOM_TOPIC = "team_chat_room"

PREVIEW_LENGTH = 120


def _iso(value):
    return value.isoformat() if value else None


def person(user: User | None) -> dict | None:
    return {"id": user.pk, "name": user.name or user.email} if user else None


def message_data(message: Message) -> dict:
    deleted = message.deleted_at is not None
    reply_to = message.reply_to
    return {
        "id": message.pk,
        "room_id": message.room_id,
        "author": person(message.author),
        "text": "" if deleted else message.text,
        "media": media_data(message.media) if message.media_id and not deleted else None,
        "held": message.held,
        "reply_to": {
            "id": reply_to.pk,
            "author": person(reply_to.author),
            "text": "" if reply_to.deleted_at else reply_to.text[:PREVIEW_LENGTH],
            "deleted": reply_to.deleted_at is not None,
        } if reply_to else None,
        "reply_count": getattr(message, "reply_count", None),
        "mentions": list(message.mentions),
        "deleted": deleted,
        "created_at": _iso(message.created_at),
        "edited_at": _iso(message.edited_at),
        "deleted_at": _iso(message.deleted_at),
    }


def room_data(room: Room, members: list[User]) -> dict:
    return {
        "id": room.pk,
        "kind": room.kind,
        "name": room.name,
        "description": room.description,
        "members": [person(user) for user in members],
        "last_message_at": _iso(room.last_message_at),
    }


def message_audience(message: Message) -> list[str]:
    if message.held:
        return [f"user.{message.author_id}"] if message.author_id else []
    return [f"user.{user_id}" for user_id in member_ids(message.room_id)]
