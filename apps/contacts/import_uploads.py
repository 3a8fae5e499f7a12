"""Receiving an import's file: refused as soon as it outgrows CONTACT_IMPORT_MAX_BYTES, streamed to
a temporary file (never held in memory), before any other field is looked at."""

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.utils.translation import gettext as _

from apps.contacts.imports import check_import_size
from conversa.errors import ValidationFailed
from conversa.files.sniffing import FileTooLarge

# Multipart framing around the file: boundaries, part headers, the other fields.
ENVELOPE_BYTES = 1024 * 1024


class ImportUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.CONTACT_IMPORT_MAX_BYTES:
            try:
                check_import_size(self.received)
            except FileTooLarge as exc:
                self.request.import_upload_error = exc
            # Not a reset: Django drains the rest without keeping it, so the client gets its 413.
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def install_upload_handler(request) -> None:
    """Refuse a declared Content-Length over the limit (413) before a byte of the body is read, and
    cap the body as it streams. Call before anything touches request.POST or FILES (Django's CSRF
    check does: a view with a session posts through `csrf_exempt` outside, `csrf_protect` inside)."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.CONTACT_IMPORT_MAX_BYTES + ENVELOPE_BYTES:
        check_import_size(declared)
    if not any(isinstance(handler, ImportUploadHandler) for handler in request.upload_handlers):
        request.upload_handlers = [ImportUploadHandler(request)]


def received_file(request):
    """The multipart `file` of an import request, or 413/422 (see `install_upload_handler`)."""
    install_upload_handler(request)
    uploaded = request.FILES.get("file")
    if getattr(request, "import_upload_error", None):
        raise request.import_upload_error
    if uploaded is None:
        message = _("A multipart field `file` is required.")
        raise ValidationFailed(details=[{"field": "file", "message": message}])
    return uploaded
