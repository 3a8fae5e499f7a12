"""`media.scanned`: the file's new state, for whoever uploaded it and the conversation showing it."""

from apps.media.models import MediaFile
from conversa.realtime.fanout import realtime_payload

MEDIA_SCANNED = "media.scanned"


def media_data(media: MediaFile) -> dict:
    from apps.media.selectors import media_urls

    return {
        "id": media.pk,
        "status": media.status,
        "kind": media.kind,
        "mime_type": media.mime_type,
        "size": media.size,
        "filename": media.filename,
        "signature": media.signature,
        "width": media.width,
        "height": media.height,
        **media_urls(media),
    }


@realtime_payload(MEDIA_SCANNED)
def media_scanned_frame(event):
    from apps.conversations.events import conversation_audience
    from apps.conversations.models import Message

    media = MediaFile.objects.filter(pk=event.data["media_id"]).first()
    if media is None:
        return None
    audience = {f"user.{media.uploaded_by_id}"} if media.uploaded_by_id else set()
    for message in Message.objects.filter(media=media).select_related("conversation"):
        audience.update(conversation_audience(message.conversation))
    return (media_data(media), sorted(audience)) if audience else None
