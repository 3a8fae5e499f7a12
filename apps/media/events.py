"""`media.scanned`: a file's new state. Its frame goes to whoever may see the file, which only the
apps that attach files know: conversations builds it (apps/conversations/events.py)."""

from apps.media.models import MediaFile
from apps.media.selectors import media_urls

MEDIA_SCANNED = "media.scanned"


def media_data(media: MediaFile) -> dict:
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
