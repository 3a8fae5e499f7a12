"""`notification.created`, pushed to its user only."""

from apps.notifications.models import Notification
from conversa.realtime.fanout import realtime_payload

NOTIFICATION_CREATED = "notification.created"


def notification_data(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": notification.created_at.isoformat(),
    }


@realtime_payload(NOTIFICATION_CREATED)
def notification_frame(event):
    notification = Notification.objects.filter(pk=event.data["notification_id"]).first()
    if notification is None:
        return None
    return notification_data(notification), [f"user.{notification.user_id}"]
