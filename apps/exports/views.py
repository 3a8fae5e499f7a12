"""Serving an export's file to its signed link (on the company's own host only)."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from apps.exports import services, signing
from apps.exports.models import Export

CONTENT_TYPES = {
    Export.Format.CSV: "text/csv; charset=utf-8",
    Export.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Export.Format.ZIP: "application/zip",
}


def file_response(export: Export) -> FileResponse:
    """The file as an attachment with its name; never sniffed, never cached by proxies."""
    if export.status != Export.Status.COMPLETED or not export.file_name:
        raise Http404
    response = FileResponse(
        default_storage.open(export.file_name, "rb"), as_attachment=True, filename=export.filename,
        content_type=CONTENT_TYPES[export.format],
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def signed_download(request, key):
    if not signing.signature_valid(str(key), request.GET.get("expires"), request.GET.get("signature")):
        raise Http404
    export = Export.objects.filter(key=key).first()
    if export is None:
        raise Http404
    response = file_response(export)
    services.export_record_download(export=export, request=request)
    return response
