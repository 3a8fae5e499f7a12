"""Reads of media: links to a clean file's bytes."""

from apps.media import storage
from apps.media.models import MediaFile


def media_urls(media: MediaFile, *, ttl: int | None = None) -> dict:
    """Signed, short-lived links; only a clean file has any."""
    if not media.is_clean:
        return {"download_url": None, "thumbnail_url": None}
    return {
        "download_url": storage.signed_path(media.key, "original", ttl=ttl),
        "thumbnail_url": storage.signed_path(media.key, "thumbnail", ttl=ttl)
        if media.thumbnail_name
        else None,
    }
