"""What conversations does when a lower app publishes: media settles a file that messages wait for."""

from django_tenants.utils import schema_context

from apps.conversations.models import Message
from apps.conversations.outbound import queue_delivery_after_commit
from apps.media.events import MEDIA_SCANNED
from conversa.events import Event, subscribe


@subscribe
def release_messages_waiting_for_media(event: Event) -> None:
    """Messages waiting for a scanned file go to delivery: sent if it is clean, failed otherwise.
    A release lost here (a worker down) is picked up by `deliveries_recover` a minute later."""
    if event.name != MEDIA_SCANNED:
        return
    with schema_context(event.schema_name):
        waiting = Message.objects.filter(
            media_id=event.data["media_id"], status=Message.Status.PENDING
        ).values_list("pk", flat=True)
        for message_id in waiting:
            queue_delivery_after_commit(message_id)
