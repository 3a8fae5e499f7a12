"""Creating and reading notifications."""

from django.db import transaction
from django.db.models import Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Concat
from django.utils import timezone

from apps.accounts.models import User
from apps.notifications.events import NOTIFICATION_CREATED
from apps.notifications.models import Notification
from conversa.events import publish


def notify(*, users, kind: str, title: str, body: str = "", data: dict | None = None) -> list[Notification]:
    """Notify each user (deduplicated); each gets `notification.created` on their sockets after commit."""
    created = []
    with transaction.atomic():
        for user in {user.pk: user for user in users}.values():
            notification = Notification.objects.create(
                user=user, kind=kind, title=title[:200], body=body, data=data or {}
            )
            publish(NOTIFICATION_CREATED, {"notification_id": notification.pk})
            created.append(notification)
    return created


def notify_admins(*, kind: str, title: str, body: str = "", data: dict | None = None, also=None):
    admins = list(User.objects.filter(role=User.Role.ADMIN, is_active=True))
    return notify(
        users=admins + [user for user in (also or []) if user is not None],
        kind=kind,
        title=title,
        body=body,
        data=data,
    )


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def notifications_forget_conversations(*, conversation_ids) -> int:
    """Erasure: notifications about these conversations keep only the conversation's number (their
    titles and bodies may quote the contact's name or words)."""
    return Notification.objects.filter(data__conversation_id__in=list(conversation_ids)).update(
        title=Concat(Value("#"), KeyTextTransform("conversation_id", "data")), body="",
    )
