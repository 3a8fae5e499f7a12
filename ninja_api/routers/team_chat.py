"""`/api/v1/team-chat`: rooms, members, messages and read positions of the team chat (SPEC §11)."""

import datetime as dt

from django.db import connection
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.teamchat import services
from apps.teamchat.events import message_data
from apps.teamchat.selectors import (
    message_get_for,
    messages_for,
    room_get_for,
    room_list,
    with_reply_counts,
)
from conversa.realtime.presence import online_user_ids
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["team chat"])


class MemberOut(Schema):
    id: int
    name: str
    email: str
    role: str
    online: bool


class RoomOut(Schema):
    id: int
    kind: str
    name: str
    description: str
    members: list[MemberOut]
    unread_count: int
    last_message_at: dt.datetime | None
    created_at: dt.datetime


class RoomPage(Schema):
    items: list[RoomOut]
    next_cursor: str | None


class RoomIn(Schema):
    name: str = Field(max_length=1000)
    description: str = Field("", max_length=5000)
    member_ids: list[int] = Field(default_factory=list)


class RoomPatch(Schema):
    name: str = Field(None, max_length=1000)
    description: str = Field(None, max_length=5000)


class DirectIn(Schema):
    user_id: int


class MemberIn(Schema):
    user_id: int


class Person(Schema):
    id: int
    name: str


class ReplyPreview(Schema):
    id: int
    author: Person | None
    text: str
    deleted: bool


class MessageOut(Schema):
    id: int
    room_id: int
    author: Person | None
    text: str
    media: dict | None
    held: bool
    reply_to: ReplyPreview | None
    reply_count: int | None
    mentions: list[int]
    deleted: bool
    created_at: dt.datetime
    edited_at: dt.datetime | None
    deleted_at: dt.datetime | None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageIn(Schema):
    text: str | None = Field(None, max_length=100_000)
    media_id: int | None = None
    reply_to: int | None = None


class MessagePatch(Schema):
    text: str = Field(max_length=100_000)


class ReadIn(Schema):
    up_to: int | None = None


class ReadOut(Schema):
    room_id: int
    unread_count: int
    last_read_message_id: int


def _rooms_out(request, rooms) -> list[dict]:
    online = online_user_ids(connection.schema_name)
    return [
        {
            "id": room.pk, "kind": room.kind, "name": room.name, "description": room.description,
            "members": [
                {"id": m.user.pk, "name": m.user.name or m.user.email, "email": m.user.email, "role": m.role,
                 "online": m.user.pk in online}
                for m in room.active_memberships
            ],
            "unread_count": room.unread_count or 0,
            "last_message_at": room.last_message_at,
            "created_at": room.created_at,
        }
        for room in rooms
    ]


def _room_out(request, room_id: int) -> dict:
    return _rooms_out(request, [room_list(request.auth).get(pk=room_get_for(request.auth, room_id).pk)])[0]


@router.get("/rooms", response=RoomPage)
def list_rooms(request, page: Query[PageParams]):
    """The signed-in user's rooms, most recently active first, each with their unread count."""
    found = page_of(room_list(request.auth), page, ordering=("-last_message_at", "-id"))
    return {"items": _rooms_out(request, found["items"]), "next_cursor": found["next_cursor"]}


@router.post("/rooms", response={201: RoomOut})
def create_room(request, payload: RoomIn):
    room = services.room_create(actor=request.auth, **payload.dict())
    return Status(201, _room_out(request, room.pk))


@router.post("/direct", response={200: RoomOut, 201: RoomOut})
def open_direct(request, payload: DirectIn):
    """The direct room with `user_id`: found (200) or created (201); one per pair."""
    room, created = services.room_direct_open(actor=request.auth, user_id=payload.user_id)
    return Status(201 if created else 200, _room_out(request, room.pk))


@router.get("/rooms/{int:room_id}", response=RoomOut)
def get_room(request, room_id: int):
    return _room_out(request, room_id)


@router.patch("/rooms/{int:room_id}", response=RoomOut)
def update_room(request, room_id: int, payload: RoomPatch):
    room = room_get_for(request.auth, room_id)
    services.room_update(actor=request.auth, room=room, **payload.dict(exclude_unset=True))
    return _room_out(request, room.pk)


@router.post("/rooms/{int:room_id}/members", response={200: RoomOut, 201: RoomOut})
def add_member(request, room_id: int, payload: MemberIn):
    room = room_get_for(request.auth, room_id)
    added = services.room_member_add(actor=request.auth, room=room, user_id=payload.user_id)
    return Status(201 if added else 200, _room_out(request, room.pk))


@router.delete("/rooms/{int:room_id}/members/{int:user_id}", response={204: None})
def remove_member(request, room_id: int, user_id: int):
    room = room_get_for(request.auth, room_id)
    services.room_member_remove(actor=request.auth, room=room, user_id=user_id)
    return Status(204, None)


@router.post("/rooms/{int:room_id}/leave", response={204: None})
def leave_room(request, room_id: int):
    services.room_leave(actor=request.auth, room=room_get_for(request.auth, room_id))
    return Status(204, None)


@router.get("/rooms/{int:room_id}/messages", response=MessagePage)
def list_messages(request, room_id: int, page: Query[PageParams], q: str | None = None,
                  thread: int | None = None):
    """Newest first. `q`: search the room's text (accents and case ignored); `thread`: a message
    and its replies."""
    room = room_get_for(request.auth, room_id)
    messages = with_reply_counts(messages_for(room, request.auth, q=q, thread=thread))
    found = page_of(messages, page, ordering=("-id",))
    return {"items": [message_data(m) for m in found["items"]], "next_cursor": found["next_cursor"]}


@router.post("/rooms/{int:room_id}/messages", response={201: MessageOut})
def send_message(request, room_id: int, payload: MessageIn):
    room = room_get_for(request.auth, room_id)
    message = services.message_send(actor=request.auth, room=room, text=payload.text,
                                    media_id=payload.media_id, reply_to_id=payload.reply_to)
    return Status(201, _message_out(request, room, message.pk))


def _message_out(request, room, message_id: int) -> dict:
    return message_data(with_reply_counts(messages_for(room, request.auth)).get(pk=message_id))


@router.patch("/rooms/{int:room_id}/messages/{int:message_id}", response=MessageOut)
def edit_message(request, room_id: int, message_id: int, payload: MessagePatch):
    room = room_get_for(request.auth, room_id)
    message = message_get_for(room, request.auth, message_id)
    services.message_edit(actor=request.auth, room=room, message=message, text=payload.text)
    return _message_out(request, room, message.pk)


@router.delete("/rooms/{int:room_id}/messages/{int:message_id}", response=MessageOut)
def delete_message(request, room_id: int, message_id: int):
    room = room_get_for(request.auth, room_id)
    message = message_get_for(room, request.auth, message_id)
    services.message_delete(actor=request.auth, room=room, message=message)
    return _message_out(request, room, message.pk)


@router.post("/rooms/{int:room_id}/read", response=ReadOut)
def mark_read(request, room_id: int, payload: ReadIn | None = None):
    room = room_get_for(request.auth, room_id)
    membership = services.room_mark_read(actor=request.auth, room=room,
                                         up_to=payload.up_to if payload else None)
    return {"room_id": room.pk, "unread_count": membership.unread_count,
            "last_read_message_id": membership.last_read_message_id}
