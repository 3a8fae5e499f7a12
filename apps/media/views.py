"""Serving a clean file's bytes: to a signed link, or to a signed-in user through the API."""

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from apps.media import storage
from apps.media.models import MediaFile

VARIANTS = ("original", "thumbnail")


def file_response(media: MediaFile, variant: str = "original") -> FileResponse:
    """The bytes with safe headers: the sniffed type, an attachment with a safe name, no sniffing."""
    if not media.is_clean or variant not in VARIANTS:
        raise Http404
    name = media.thumbnail_name if variant == "thumbnail" else media.storage_name
    if not name:
        raise Http404
    content_type = media.thumbnail_mime if variant == "thumbnail" else media.mime_type
    response = FileResponse(
        storage.open_file(name),
        content_type=content_type,
        as_attachment=variant == "original",
        filename=media.filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def signed_download(request, key, variant: str):
    if not storage.signature_valid(
        str(key), variant, request.GET.get("expires"), request.GET.get("signature")
    ):
        raise Http404
    media = MediaFile.objects.filter(key=key).first()
    if media is None:
        raise Http404
    return file_response(media, variant)
