"""What a file really is (SPEC §8): its type sniffed from the content, checked against its name and
its declared type; size limits per kind; safe file names.

The content decides. libmagic (python-magic) sniffs a large head of the file; a few of its answers
need help, decided here and nowhere else:

- DOCX/XLSX are zips: libmagic names them only when ``[Content_Types].xml`` comes first, so every
  zip is confirmed (or identified) from its member names (``word/document.xml``,
  ``xl/workbook.xml``); macro-enabled documents (``vbaProject.bin``) are refused.
- CSV: libmagic says ``text/csv`` for comma CSV and ``text/plain`` for semicolon CSV (or a single
  line); plain text and CSV are told apart by the extension (``.csv`` / ``.txt``). libmagic also
  guesses a programming language for some plain text (``text/x-c``, ``application/json``, …): those
  count as plain text when the name says ``.txt`` or ``.csv``. HTML, XML and SVG never do.
- M4A: libmagic says ``audio/x-m4a`` for the ``M4A`` brand but ``video/mp4`` for audio written with
  a generic brand: ``video/mp4`` named ``.m4a`` is M4A audio.
- OGG must be Opus (``OpusHead`` in the first page), as WhatsApp plays only Opus voice notes.
- MP3 with an ID3 tag (cover art) bigger than the head: the audio after the tag is sniffed.

Every type has one canonical MIME type (aliases are normalised), one kind and one canonical
extension.
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

import magic
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from conversa.errors import DomainError

# Sniff this much of the head: an MP3 with a large ID3 picture is octet-stream from its first 2 KB.
SNIFF_BYTES = 64 * 1024

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Allowed canonical MIME types per kind (SPEC §8).
ALLOWED: dict[str, tuple[str, ...]] = {
    "image": ("image/jpeg", "image/png", "image/webp", "image/gif"),
    "video": ("video/mp4",),
    "audio": ("audio/mpeg", "audio/ogg", "audio/aac", "audio/mp4", "audio/wav"),
    "document": ("application/pdf", DOCX, XLSX, "text/csv", "text/plain"),
}
KIND_OF: dict[str, str] = {mime: kind for kind, mimes in ALLOWED.items() for mime in mimes}

# Extensions a file name may carry for each canonical type; the first is the canonical one.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "video/mp4": (".mp4", ".m4v"),
    "audio/mpeg": (".mp3", ".mpga"),
    "audio/ogg": (".ogg", ".opus", ".oga"),
    "audio/aac": (".aac",),
    "audio/mp4": (".m4a", ".mp4"),
    "audio/wav": (".wav", ".wave"),
    "application/pdf": (".pdf",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    "text/csv": (".csv",),
    "text/plain": (".txt", ".text"),
}

# Other names for the canonical types: what libmagic, browsers and providers say.
ALIASES: dict[str, str] = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "video/x-m4v": "video/mp4",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/mpg": "audio/mpeg",
    "audio/opus": "audio/ogg",
    "audio/x-opus+ogg": "audio/ogg",
    "audio/x-hx-aac-adts": "audio/aac",
    "audio/x-aac": "audio/aac",
    "audio/aacp": "audio/aac",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-pn-wav": "audio/wav",
    "application/x-pdf": "application/pdf",
    "application/csv": "text/csv",
    "text/x-csv": "text/csv",
    "text/comma-separated-values": "text/csv",
}

# Declared types that say nothing about the content: ignored.
GENERIC_DECLARED = frozenset({
    "", "application/octet-stream", "binary/octet-stream", "application/binary", "application/unknown",
    "application/x-unknown", "application/force-download", "application/x-download", "unknown/unknown",
})

# Declared types that clients honestly send for content of another canonical type.
DECLARED_COMPATIBLE: dict[str, frozenset[str]] = {
    # Windows browsers declare CSV as Excel when Excel is installed; some clients call CSV text.
    "text/csv": frozenset({"text/plain", "application/vnd.ms-excel"}),
    "text/plain": frozenset({"text/csv"}),
    "audio/mp4": frozenset({"video/mp4", "audio/aac"}),
    "audio/aac": frozenset({"audio/mp4"}),
    DOCX: frozenset({"application/zip", "application/x-zip-compressed"}),
    XLSX: frozenset({"application/zip", "application/x-zip-compressed", "application/vnd.ms-excel"}),
}

# libmagic's language guesses for what is plain text to everyone else (accepted as .txt/.csv only).
TEXT_GUESSES = frozenset({
    "text/x-c", "text/x-c++", "text/x-java", "text/x-objective-c", "text/x-script.python",
    "text/x-shellscript", "text/x-makefile", "text/x-asm", "text/x-algol68", "text/x-fortran",
    "text/x-pascal", "text/x-tex", "text/x-diff", "text/x-po", "text/x-ruby", "text/x-perl",
    "text/x-lisp", "text/x-m4", "text/x-bcpl", "text/x-awk", "text/x-nawk", "text/x-gawk", "text/x-tcl",
    "text/x-msdos-batch", "text/x-lua", "text/troff", "text/x-bytecode.python", "application/json",
    "application/x-ndjson",
})

ZIP_SNIFFED = frozenset({"application/zip", "application/x-zip-compressed", DOCX, XLSX})
ZIP_MAGIC = b"PK\x03\x04"
# A DOCX or XLSX has tens of parts, a big one a few thousand.
MAX_ZIP_ENTRIES = 10_000

# Extensions that name something, so that one disagreeing with the content is a lie; other suffixes
# ("Invoice 12.03.2024", "report.final") are part of the name. Python's built-in table, not the
# machine's /etc/mime.types, so the answer is the same everywhere.
_builtin_types = mimetypes.MimeTypes(filenames=())
KNOWN_EXTENSIONS = frozenset(
    {ext for exts in EXTENSIONS.values() for ext in exts}
    | set(_builtin_types.types_map[True]) | set(_builtin_types.types_map[False])
    | {".exe", ".dll", ".scr", ".bat", ".cmd", ".com", ".msi", ".ps1", ".vbs", ".jar", ".apk", ".app",
       ".dmg", ".html", ".htm", ".xhtml", ".svg", ".svgz", ".js", ".mjs", ".php", ".heic", ".heif",
       ".mov", ".3gp", ".webm", ".mkv", ".avi", ".flac", ".amr", ".doc", ".xls", ".ppt", ".pptx",
       ".docm", ".xlsm", ".odt", ".ods", ".rtf", ".zip", ".rar", ".7z", ".gz", ".tar", ".iso", ".lnk"}
)

KIND_LABELS = {"image": _("Images"), "video": _("Videos"), "audio": _("Audio files"),
               "document": _("Documents")}


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    default_message = _("This type of file is not supported.")


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"
    default_message = _("This file is too large.")


@dataclass(frozen=True)
class Sniffed:
    mime: str  # canonical MIME type, e.g. "image/jpeg"
    kind: str  # "image", "video", "audio" or "document"
    extension: str  # canonical extension with its dot, e.g. ".jpg"


ZipReader = Callable[[], Iterable[str]]
ReadAt = Callable[[int, int], bytes]


def normalise_mime(value: str | None) -> str:
    """"Audio/OGG; codecs=opus" → "audio/ogg": lower case, no parameters, aliases resolved."""
    mime = (value or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(mime, mime)


def extension_of(filename: str | None) -> str:
    """The extension that names a type (".jpg"), or "" when the name has none we know of."""
    base = re.split(r"[\\/]", filename or "")[-1]
    ext = posixpath.splitext(base.strip().rstrip(". "))[1].lower()
    return ext if ext in KNOWN_EXTENSIONS else ""


def sniff(
    head: bytes,
    *,
    filename: str,
    declared_type: str | None = None,
    zip_reader: ZipReader | None = None,
    read_at: ReadAt | None = None,
) -> Sniffed:
    """The canonical type of a file from its first bytes (ideally ``SNIFF_BYTES`` of them).

    ``zip_reader`` returns the member names of the whole file (to tell DOCX from XLSX from any zip);
    without it a zip is read from ``head``, which works only when the head is the whole file.
    ``read_at(offset, size)`` reads from the whole file (to sniff an MP3 behind a large ID3 tag).
    Prefer ``sniff_file``, which provides both. Raises UnsupportedMediaType (415).
    """
    ext = extension_of(filename)
    detected = magic.from_buffer(head, mime=True) if head else "application/x-empty"
    mime = normalise_mime(detected)

    if mime == "application/x-empty":
        raise UnsupportedMediaType(_("The file is empty."), details={"detected": detected})
    if mime == "application/octet-stream" and head.startswith(b"ID3"):
        mime = _sniff_behind_id3(head, read_at) or mime
    if mime in ZIP_SNIFFED or (mime == "application/octet-stream" and head.startswith(ZIP_MAGIC)):
        mime = _office_type(head, zip_reader, ext, detected=mime)
    elif mime in ("text/plain", "text/csv") or (mime in TEXT_GUESSES and ext in (".txt", ".csv")):
        # CSV or plain text: the extension decides between the two.
        mime = {".csv": "text/csv", ".txt": "text/plain", ".text": "text/plain"}.get(ext, mime)
    elif mime == "video/mp4" and ext == ".m4a":
        mime = "audio/mp4"
    elif mime == "audio/ogg" and b"OpusHead" not in head[:512]:
        raise UnsupportedMediaType(
            _("Only Opus audio is supported in OGG files."), details={"detected": "audio/ogg"}
        )

    kind = KIND_OF.get(mime)
    if kind is None:
        raise UnsupportedMediaType(details={"detected": mime})
    if ext and ext not in EXTENSIONS[mime]:
        raise UnsupportedMediaType(
            _("The file name's extension does not match its content."),
            details={"detected": mime, "extension": ext},
        )
    declared = normalise_mime(declared_type)
    agrees = declared == mime or declared in GENERIC_DECLARED or declared in DECLARED_COMPATIBLE.get(mime, ())
    if not agrees:
        raise UnsupportedMediaType(
            _("The declared type of the file does not match its content."),
            details={"detected": mime, "declared": declared},
        )
    return Sniffed(mime=mime, kind=kind, extension=EXTENSIONS[mime][0])


def sniff_file(fileobj: BinaryIO, *, filename: str, declared_type: str | None = None) -> Sniffed:
    """``sniff`` for a whole seekable file: zips are inspected by their member names, without
    decompressing anything. The file is left at position 0."""

    def zip_reader() -> list[str]:
        if _zip_entry_count(fileobj) > MAX_ZIP_ENTRIES:
            raise zipfile.BadZipFile("too many entries")
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            return archive.namelist()

    def read_at(offset: int, size: int) -> bytes:
        fileobj.seek(offset)
        return fileobj.read(size)

    try:
        fileobj.seek(0)
        head = fileobj.read(SNIFF_BYTES)
        return sniff(head, filename=filename, declared_type=declared_type, zip_reader=zip_reader,
                     read_at=read_at)
    finally:
        fileobj.seek(0)


def _zip_entry_count(fileobj: BinaryIO) -> int:
    """The entry count of the zip's end-of-central-directory record (0xFFFF for zip64), read before
    zipfile builds an object per entry: a small file can declare millions of them."""
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(max(0, size - (0xFFFF + 22)))
    tail = fileobj.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return 0  # zipfile will say what is wrong
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def _sniff_behind_id3(head: bytes, read_at: ReadAt | None) -> str | None:
    """MPEG audio after an ID3v2 tag too big for the head (a large cover picture), or None."""
    if len(head) < 10:
        return None
    size_bytes = head[6:10]
    if any(b & 0x80 for b in size_bytes):
        return None
    b0, b1, b2, b3 = size_bytes  # a syncsafe integer: 7 bits per byte
    size = 10 + (b0 << 21 | b1 << 14 | b2 << 7 | b3)
    if head[5] & 0x10:  # footer present
        size += 10
    if size + 4 <= len(head):
        after = head[size:]
    elif read_at is not None:
        after = read_at(size, SNIFF_BYTES)
    else:
        return None
    found = normalise_mime(magic.from_buffer(after, mime=True)) if after else ""
    return found if found in ("audio/mpeg", "audio/aac") else None


def _office_type(head: bytes, zip_reader: ZipReader | None, ext: str, *, detected: str) -> str:
    """DOCX or XLSX from the zip's member names; any other zip is refused."""
    try:
        if zip_reader is not None:
            names = set(zip_reader())
        else:
            with zipfile.ZipFile(io.BytesIO(head)) as archive:
                names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        if zip_reader is None and detected in (DOCX, XLSX):
            return detected  # only a head, of a zip libmagic recognised: take its word
        raise UnsupportedMediaType(
            _("This archive could not be read."), details={"detected": "application/zip"}
        ) from None
    lowered = {name.lower() for name in names}
    if any(name.endswith("vbaproject.bin") for name in lowered):
        raise UnsupportedMediaType(
            _("Documents with macros are not supported."), details={"detected": "application/zip"}
        )
    found = []
    if "[content_types].xml" in lowered:
        if "word/document.xml" in lowered:
            found.append(DOCX)
        if "xl/workbook.xml" in lowered:
            found.append(XLSX)
    if not found:
        raise UnsupportedMediaType(
            _("Archives are not supported; send DOCX, XLSX or PDF documents."),
            details={"detected": "application/zip"},
        )
    # Both parts present (odd, but harmless): the name chooses; otherwise the first one found.
    for mime in found:
        if ext in EXTENSIONS[mime]:
            return mime
    return found[0]


def limit_for(kind: str) -> int:
    """The size limit in bytes for a kind of file (settings.MEDIA_MAX_BYTES)."""
    try:
        return int(settings.MEDIA_MAX_BYTES[kind])
    except KeyError:
        raise ValueError(f"unknown media kind {kind!r}") from None


def check_size(kind: str, size: int) -> None:
    """Raise FileTooLarge (413) when ``size`` bytes is over the kind's limit."""
    limit = limit_for(kind)
    if size > limit:
        raise FileTooLarge(
            _("This file is too large. %(kind)s can be at most %(limit)s.")
            % {"kind": KIND_LABELS.get(kind, kind), "limit": filesizeformat(limit)},
            details={"limit": limit, "kind": kind, "size": size},
        )


# --- file names -----------------------------------------------------------------------------------

MAX_FILENAME_CHARS = 150
_KEEP_PUNCTUATION = frozenset(" -_.,()[]+&@#=!~")
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)


def safe_filename(name: str | None, *, default_extension: str = "") -> str:
    """A file name safe to store and to put in Content-Disposition.

    The last path component only; control and format characters (e.g. the right-to-left override
    that turns "cod.exe" into "exe.doc" on screen), quotes and other punctuation dropped; unicode
    letters, digits and marks kept; at most 150 characters with the extension kept; "file" when
    nothing is left. ``default_extension`` (".jpg") is added when the name has none.
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[\\/]", text)[-1]
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" ")
        elif category[0] in "LNM" or char in _KEEP_PUNCTUATION:
            kept.append(char)
    text = re.sub(r" {2,}", " ", "".join(kept)).strip(" .")

    stem, ext = posixpath.splitext(text)
    if not re.fullmatch(r"\.[^\W_]{1,10}", ext):
        stem, ext = text, ""
    stem = stem.strip(" .")
    if not ext and default_extension:
        ext = default_extension if default_extension.startswith(".") else f".{default_extension}"
    if not stem:
        stem = "file"
    if stem.split(".", 1)[0].lower() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    stem = stem[: MAX_FILENAME_CHARS - len(ext)].rstrip(" .") or "file"
    return f"{stem}{ext}"
