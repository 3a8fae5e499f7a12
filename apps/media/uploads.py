"""An upload handler that refuses a file as soon as it outgrows the limit of its kind.

The kind is sniffed from the first chunk, so a 200 MB video is cut off at 16 MB, not after the whole
body has been received; nothing is held in memory (chunks go to a temporary file).
"""

import magic
from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

from conversa.files.sniffing import FileTooLarge


def kind_of(mime: str) -> str:
    prefix = mime.split("/", 1)[0]
    return prefix if prefix in ("image", "video", "audio") else "document"


def largest_limit() -> int:
    return max(settings.MEDIA_MAX_BYTES.values())


class MediaUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0
        self.limit = largest_limit()
        self.kind = None

    def receive_data_chunk(self, raw_data, start):
        if self.kind is None:
            self.kind = kind_of(magic.from_buffer(raw_data[:65536], mime=True))
            self.limit = settings.MEDIA_MAX_BYTES[self.kind]
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.media_upload_error = FileTooLarge(details={"limit": self.limit, "kind": self.kind})
            # Not a reset: Django drains the rest of the body without keeping it, so the client gets its 413.
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)
