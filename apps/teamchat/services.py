"""Writes of team chat: rooms, members, messages, read positions.

Every write that changes what a member has not read (send, a held message's release, delete, read)
runs under the room's row lock (`_lock_room`), so per room they happen one at a time and each
member's `unread_count` stays equal to the visible messages of others after their read position,
however many people send at once. Frames and notifications go out after commit.
"""

import re

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.media.models import MediaFile
from apps.notifications.services import notify
from apps.teamchat.events import MESSAGE_CREATED, MESSAGE_DELETED, MESSAGE_UPDATED, ROOM_UPDATED
from apps.teamchat.models import Membership, Message, Room
from apps.teamchat.selectors import check_team_chat
from conversa.errors import Conflict, Forbidden, NotFound, ValidationFailed
from conversa.events import publish

MAX_TEXT_LENGTH = 4096
MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 500


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _lock_room(room: Room) -> Room:
    return Room.objects.select_for_update().get(pk=room.pk)


def _active_users(user_ids, field: str) -> list[User]:
    ids = {int(user_id) for user_id in user_ids}
    users = list(User.objects.filter(pk__in=ids, is_active=True))
    if len(users) != len(ids):
        raise _invalid(field, _("No such user."))
    return users


def _latest_message_id(room: Room) -> int:
    return Message.objects.filter(room=room).aggregate(latest=Max("id"))["latest"] or 0


def _join(room: Room, user: User, *, role: str = Membership.Role.MEMBER) -> bool:
    """Make `user` a member from now on (their unread count starts at zero); False if already one."""
    latest = _latest_message_id(room)
    membership, created = Membership.objects.get_or_create(
        room=room, user=user, defaults={"role": role, "last_read_message_id": latest},
    )
    if created:
        return True
    if membership.left_at is None:
        return False
    membership.left_at, membership.role = None, role
    membership.joined_at, membership.unread_count, membership.last_read_message_id = timezone.now(), 0, latest
    membership.save(update_fields=["left_at", "role", "joined_at", "unread_count", "last_read_message_id"])
    return True


def _owner_check(actor: User, room: Room) -> None:
    if room.kind == Room.Kind.DIRECT:
        raise Conflict(_("A direct room always holds its two people."))
    if not Membership.objects.filter(room=room, user=actor, left_at__isnull=True,
                                     role=Membership.Role.OWNER).exists():
        raise Forbidden(_("Only the room's owners can do this."))


def _clean_name(name: str | None, *, required: bool) -> str:
    name = (name or "").strip()
    if required and not name:
        raise _invalid("name", _("A group needs a name."))
    if len(name) > MAX_NAME_LENGTH:
        raise _invalid("name", _("At most %(max)d characters.") % {"max": MAX_NAME_LENGTH})
    return name


def _clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise _invalid("description", _("At most %(max)d characters.") % {"max": MAX_DESCRIPTION_LENGTH})
    return description


# Rooms ------------------------------------------------------------------------------------------

def room_direct_open(*, actor: Actor, user_id: int) -> tuple[Room, bool]:
    """The one direct room of `actor` and `user_id`, created on first use: (room, created).

    Two people opening it at the same moment get the same room (the pair key is unique; the loser
    of the insert reads the winner's row)."""
    check_team_chat(actor)
    if user_id == actor.pk:
        raise _invalid("user_id", _("Choose someone other than yourself."))
    (other,) = _active_users([user_id], "user_id")
    key = f"{min(actor.pk, other.pk)}:{max(actor.pk, other.pk)}"
    existing = Room.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            room = Room.objects.create(kind=Room.Kind.DIRECT, direct_key=key, created_by=actor)
            _join(room, actor, role=Membership.Role.OWNER)
            _join(room, other, role=Membership.Role.OWNER)
            publish(ROOM_UPDATED, {"room_id": room.pk})
    except IntegrityError:
        return Room.objects.get(direct_key=key), False
    return room, True


def room_create(*, actor: Actor, name: str, description: str = "", member_ids=()) -> Room:
    """A group room owned by `actor`, with the given members."""
    check_team_chat(actor)
    name, description = _clean_name(name, required=True), _clean_description(description)
    members = _active_users([user_id for user_id in member_ids if user_id != actor.pk], "member_ids")
    with transaction.atomic():
        room = Room.objects.create(kind=Room.Kind.GROUP, name=name, description=description, created_by=actor)
        _join(room, actor, role=Membership.Role.OWNER)
        for user in members:
            _join(room, user)
        publish(ROOM_UPDATED, {"room_id": room.pk})
    return room


def room_update(*, actor: Actor, room: Room, **fields) -> Room:
    """Rename a group or change its description (owners)."""
    check_team_chat(actor)
    _owner_check(actor, room)
    changes = {}
    if "name" in fields:
        changes["name"] = _clean_name(fields["name"], required=True)
    if "description" in fields:
        changes["description"] = _clean_description(fields["description"])
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(**changes, updated_at=timezone.now())
        publish(ROOM_UPDATED, {"room_id": room.pk})
    room.refresh_from_db()
    return room


def room_member_add(*, actor: Actor, room: Room, user_id: int) -> bool:
    """Add a member (owners); False if they already are one."""
    check_team_chat(actor)
    _owner_check(actor, room)
    (user,) = _active_users([user_id], "user_id")
    with transaction.atomic():
        _lock_room(room)
        added = _join(room, user)
        if added:
            publish(ROOM_UPDATED, {"room_id": room.pk})
    return added


def _depart(room: Room, user_id: int) -> bool:
    """End a membership; the oldest remaining member owns a group whose last owner left."""
    left = Membership.objects.filter(room=room, user_id=user_id, left_at__isnull=True).update(
        left_at=timezone.now(), role=Membership.Role.MEMBER,
    )
    if not left:
        return False
    remaining = Membership.objects.filter(room=room, left_at__isnull=True)
    if not remaining.filter(role=Membership.Role.OWNER).exists():
        heir = remaining.order_by("joined_at", "id").first()
        if heir is not None:
            remaining.filter(pk=heir.pk).update(role=Membership.Role.OWNER)
    publish(ROOM_UPDATED, {"room_id": room.pk, "removed_user_ids": [user_id]})
    return True


def room_member_remove(*, actor: Actor, room: Room, user_id: int) -> None:
    """Remove a member (owners); from then on they get nothing of the room. 404 if not a member."""
    check_team_chat(actor)
    _owner_check(actor, room)
    with transaction.atomic():
        _lock_room(room)
        if not _depart(room, user_id):
            raise NotFound()


def room_leave(*, actor: Actor, room: Room) -> None:
    check_team_chat(actor)
    if room.kind == Room.Kind.DIRECT:
        raise Conflict(_("A direct room always holds its two people."))
    with transaction.atomic():
        _lock_room(room)
        _depart(room, actor.pk)


def room_mark_read(*, actor: Actor, room: Room, up_to: int | None = None) -> Membership:
    """Everything up to message `up_to` (default: the latest) is read; the count is recomputed."""
    check_team_chat(actor)
    with transaction.atomic():
        _lock_room(room)
        membership = Membership.objects.get(room=room, user=actor, left_at__isnull=True)
        latest = _latest_message_id(room)
        position = latest if up_to is None else min(up_to, latest)
        position = max(position, membership.last_read_message_id)
        membership.last_read_message_id = position
        membership.unread_count = _unread_after(room, actor.pk, position)
        membership.save(update_fields=["last_read_message_id", "unread_count"])
    return membership


def _unread_after(room: Room, user_id: int, position: int) -> int:
    return (
        Message.objects.filter(room=room, id__gt=position, held=False, deleted_at__isnull=True)
        .exclude(author_id=user_id).count()
    )


# Messages ---------------------------------------------------------------------------------------

def _clean_text(text: str | None, *, required: bool) -> str:
    text = text or ""
    if required and not text.strip():
        raise _invalid("text", _("Write a message or attach a file."))
    if len(text) > MAX_TEXT_LENGTH:
        raise _invalid("text", _("Text must be 1 to 4096 characters."))
    return text


def _own_upload(actor: User, media_id: int) -> MediaFile:
    """Only a file the sender uploaded, not infected or rejected, may be attached."""
    media = MediaFile.objects.filter(pk=media_id, uploaded_by=actor).first()
    if media is None:
        raise _invalid("media_id", _("No such file."))
    if media.status in (MediaFile.Status.INFECTED, MediaFile.Status.REJECTED):
        raise _invalid("media_id", _("This file was %(status)s and cannot be sent.")
                       % {"status": media.get_status_display().lower()})
    return media


def _count_as_unread(room: Room, message: Message, *, delta: int) -> None:
    """Members (not the author) whose read position is before `message` gain/lose one unread."""
    members = Membership.objects.filter(room=room, left_at__isnull=True,
                                        last_read_message_id__lt=message.pk)
    if message.author_id:
        members = members.exclude(user_id=message.author_id)
    if delta < 0:
        members = members.filter(unread_count__gt=0)
    members.update(unread_count=F("unread_count") + delta)


def message_send(*, actor: Actor, room: Room, text: str | None = None, media_id: int | None = None,
                 reply_to_id: int | None = None) -> Message:
    """Post to a room the actor is a member of. With a file still being scanned the message is
    held: only its author sees it until the file is clean (`message_release`)."""
    check_team_chat(actor)
    text = _clean_text(text, required=media_id is None)
    media = _own_upload(actor, media_id) if media_id is not None else None
    with transaction.atomic():
        room = _lock_room(room)
        if not Membership.objects.filter(room=room, user=actor, left_at__isnull=True).exists():
            raise NotFound()
        reply_to = None
        if reply_to_id is not None:
            reply_to = Message.objects.filter(room=room, pk=reply_to_id, held=False,
                                              deleted_at__isnull=True).first()
            if reply_to is None:
                raise _invalid("reply_to", _("No such message in this room."))
        held = media is not None and media.status == MediaFile.Status.SCANNING
        message = Message.objects.create(
            room=room, author=actor, text=text, media=media, reply_to=reply_to, held=held,
            mentions=[user.pk for user in _mentioned(room, actor, text)],
        )
        # Sending shows the room: the author has read it all.
        Membership.objects.filter(room=room, user=actor).update(
            last_read_message_id=message.pk, unread_count=0,
        )
        if not held:
            _released(room, message)
        publish(MESSAGE_CREATED, {"message_id": message.pk})
    return message


def _released(room: Room, message: Message) -> None:
    """A message becomes visible to the room: unread counts, the room's order, its mentions."""
    _count_as_unread(room, message, delta=1)
    # A held message released late must not move the room back in the list.
    Room.objects.filter(Q(last_message_at__isnull=True) | Q(last_message_at__lt=message.created_at),
                        pk=room.pk).update(last_message_at=message.created_at)
    _notify_mentions(room, message, message.mentions)


def message_release(*, media_id: int) -> list[Message]:
    """The scan of `media_id` ended: messages held for it appear to their rooms if it is clean;
    otherwise they stay with their authors, who see why. Idempotent."""
    media = MediaFile.objects.filter(pk=media_id).first()
    if media is None or media.status == MediaFile.Status.SCANNING:
        return []
    settled = []
    for message in Message.objects.filter(media=media, held=True).select_related("room"):
        with transaction.atomic():
            room = _lock_room(message.room)
            if media.is_clean:
                if not Message.objects.filter(pk=message.pk, held=True).update(held=False):
                    continue
                message.held = False
                _released(room, message)
                publish(MESSAGE_CREATED, {"message_id": message.pk})
            else:
                publish(MESSAGE_UPDATED, {"message_id": message.pk})
        settled.append(message)
    return settled


def _own_message(actor: User, message: Message) -> None:
    if message.author_id != actor.pk:
        raise Forbidden(_("You can only change your own messages."))
    if message.deleted_at is not None:
        raise Conflict(_("This message was deleted."))


def message_edit(*, actor: Actor, room: Room, message: Message, text: str) -> Message:
    """Change the text of one's own message; people newly mentioned are notified."""
    check_team_chat(actor)
    _own_message(actor, message)
    text = _clean_text(text, required=message.media_id is None)
    with transaction.atomic():
        room = _lock_room(room)
        before = set(message.mentions)
        message.text, message.edited_at = text, timezone.now()
        message.mentions = [user.pk for user in _mentioned(room, actor, text)]
        message.save(update_fields=["text", "edited_at", "mentions"])
        if not message.held:
            added = [user_id for user_id in message.mentions if user_id not in before]
            _notify_mentions(room, message, added)
        publish(MESSAGE_UPDATED, {"message_id": message.pk})
    return message


def message_delete(*, actor: Actor, room: Room, message: Message) -> Message:
    """Delete one's own message: it stays in the room as "message deleted", without its text or file."""
    check_team_chat(actor)
    _own_message(actor, message)
    with transaction.atomic():
        room = _lock_room(room)
        if not message.held:
            _count_as_unread(room, message, delta=-1)
        message.deleted_at, message.text, message.media, message.mentions = timezone.now(), "", None, []
        message.save(update_fields=["deleted_at", "text", "media", "mentions"])
        publish(MESSAGE_DELETED, {"message_id": message.pk})
    return message


# Mentions ---------------------------------------------------------------------------------------

def _mention_handles(user: User) -> list[str]:
    handles = [user.email.split("@")[0]]
    if user.name.strip():
        handles.insert(0, user.name.strip())
    return handles


def _mentioned(room: Room, author: User, text: str) -> list[User]:
    """Members other than the author named as `@Full Name` or `@email-name` in `text`."""
    if "@" not in text:
        return []
    members = User.objects.filter(
        pk__in=Membership.objects.filter(room=room, left_at__isnull=True).values("user_id"), is_active=True,
    ).exclude(pk=author.pk)
    found = []
    for user in members:
        for handle in _mention_handles(user):
            if re.search(r"(?<![\w@])@" + re.escape(handle) + r"(?![\w-])", text, re.IGNORECASE):
                found.append(user)
                break
    return found


def _notify_mentions(room: Room, message: Message, user_ids) -> None:
    if not user_ids:
        return
    author = message.author
    who = (author.name or author.email) if author else ""
    active = Membership.objects.filter(room=room, left_at__isnull=True, user_id__in=list(user_ids))
    receivers = User.objects.filter(pk__in=active.values("user_id"), is_active=True)
    # `chat_message_id`: `message_id` names a conversation's message everywhere else (backups remap it).
    data = {"room_id": room.pk, "chat_message_id": message.pk, "by_user_id": message.author_id}
    for receiver in receivers:
        # In the receiver's language, not the author's.
        with override(receiver.language or None):
            if room.kind == Room.Kind.DIRECT:
                title = _("%(name)s mentioned you") % {"name": who}
            else:
                title = _("%(name)s mentioned you in %(room)s") % {"name": who, "room": room.name}
        notify(users=[receiver], kind="mention", title=str(title), body=message.text[:300], data=data)

