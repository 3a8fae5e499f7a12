"""`/api/v1/media`: upload into quarantine, read the scan state, download once clean."""

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from apps.conversations.selectors import media_get_for
from apps.media import services
from apps.media.models import MediaFile
from apps.media.selectors import media_urls
from apps.media.uploads import MediaUploadHandler, largest_limit
from apps.media.views import file_response
from conversa.errors import Conflict, ValidationFailed
from conversa.files.sniffing import FileTooLarge

router = Router(tags=["media"])

# Multipart framing around the file: boundaries, headers, the other fields.
ENVELOPE_BYTES = 1024 * 1024


class MediaOut(Schema):
    id: int
    status: str
    kind: str
    mime_type: str
    size: int
    filename: str
    width: int | None
    height: int | None
    signature: str
    reject_reason: str
    created_at: dt.datetime
    scanned_at: dt.datetime | None
    download_url: str | None = None
    thumbnail_url: str | None = None

    @staticmethod
    def resolve_download_url(media, context):
        return _absolute(context["request"], media_urls(media)["download_url"])

    @staticmethod
    def resolve_thumbnail_url(media, context):
        return _absolute(context["request"], media_urls(media)["thumbnail_url"])


def _absolute(request, path: str | None) -> str | None:
    return request.build_absolute_uri(path) if path else None


@router.post("", response={201: MediaOut})
def upload(request):
    principal = request.auth
    # Refused before a byte of the body is read.
    services.check_media_upload(actor=principal)
    # 20 a minute per user or key: conversa.middleware.ratelimits (SPEC §13).
    declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared_length > largest_limit() + ENVELOPE_BYTES:
        # Refused before a byte of the body is read.
        raise FileTooLarge(details={"limit": largest_limit()})
    request.upload_handlers = [MediaUploadHandler(request)]
    uploaded = request.FILES.get("file")
    if getattr(request, "media_upload_error", None):
        raise request.media_upload_error
    if uploaded is None:
        raise ValidationFailed(
            details=[{"field": "file", "message": str(_("A multipart field `file` is required."))}]
        )
    media = services.media_upload(
        actor=principal,
        fileobj=uploaded,
        size=uploaded.size,
        filename=uploaded.name,
        declared_type=uploaded.content_type,
    )
    return Status(201, media)


@router.get("/{int:media_id}", response=MediaOut)
def get_media(request, media_id: int):
    return media_get_for(request.auth, media_id)


@router.get("/{int:media_id}/download")
def download(request, media_id: int, variant: str = "original"):
    media = media_get_for(request.auth, media_id)
    if media.status == MediaFile.Status.SCANNING:
        raise Conflict(
            _("The file is still being scanned."), details=[{"field": "status", "message": "scanning"}]
        )
    return file_response(media, variant)
