"""What team chat does when a lower app publishes: media settles a file that messages wait for."""

from django_tenants.utils import schema_context

from apps.media.events import MEDIA_SCANNED
from apps.teamchat.services import message_release
from conversa.events import Event, subscribe


@subscribe
def release_messages_waiting_for_media(event: Event) -> None:
    """Held messages appear to their rooms once their file is clean (their authors alone see an
    infected or rejected one)."""
    if event.name != MEDIA_SCANNED:
        return
    with schema_context(event.schema_name):
        message_release(media_id=event.data["media_id"])
