"""`/api/v1/notifications`: the signed-in user's notifications."""

import datetime as dt

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from apps.notifications import services
from apps.notifications.models import Notification
from ninja_api.auth import current_user
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    data: dict
    read_at: dt.datetime | None
    created_at: dt.datetime


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


@router.get("", response=NotificationPage)
def list_notifications(request, page: Query[PageParams], unread: bool | None = None):
    user = current_user(request)
    notifications = Notification.objects.filter(user=user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    unread_count = Notification.objects.filter(user=user, read_at__isnull=True).count()
    return {**page_of(notifications, page, ordering=("-id",)), "unread_count": unread_count}


@router.post("/{int:notification_id}/read", response=NotificationOut)
def mark_read(request, notification_id: int):
    notification = get_object_or_404(Notification, pk=notification_id, user=current_user(request))
    return services.notification_mark_read(notification=notification)


class MarkedOut(Schema):
    marked: int


@router.post("/read-all", response=MarkedOut)
def mark_all_read(request):
    return {"marked": services.notifications_mark_all_read(user=current_user(request))}
