"""Reading an uploaded contacts file: what it is (sniffed, never the name), its text encoding, its
columns and its rows, for CSV and XLSX alike.

Encodings, decided once and documented in the README: UTF-8 (with or without a BOM), UTF-16 with a
BOM (Excel's "Unicode text"), and Windows-1252 (which covers Latin-1's printable characters) only
when the whole file decodes with it cleanly: no byte undefined in Windows-1252 and no control
character. Anything else is refused (422) rather than imported as mojibake. A NUL anywhere refuses
the file too (PostgreSQL cannot store it).
"""

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import magic
from django.utils.translation import gettext as _

from conversa.errors import ValidationFailed
from conversa.files.sniffing import (
    SNIFF_BYTES,
    TEXT_GUESSES,
    XLSX,
    ZIP_MAGIC,
    UnsupportedMediaType,
    normalise_mime,
    sniff_file,
)

CSV = "csv"
XLSX_FORMAT = "xlsx"
TEXT_TYPES = frozenset({"text/plain", "text/csv", "text/tab-separated-values", "application/csv"})
DELIMITERS = (",", ";", "\t", "|")
CHUNK = 1024 * 1024
MAX_COLUMNS = 200
MAX_CELL_CHARS = 10_000
# An XLSX inflates ~10× on average; far more is a zip bomb, not a contacts sheet.
MAX_XLSX_INFLATION = 40
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FileInfo:
    """What an upload holds: its format, encoding and delimiter (CSV), columns and data row count
    (exact for CSV; for XLSX the sheet's own dimension, corrected once the import has read it)."""

    format: str
    columns: list[str]
    total: int
    encoding: str = ""
    delimiter: str = ""


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": "file", "message": str(message)}])


def _unsupported() -> UnsupportedMediaType:
    message = _("Upload a CSV or XLSX file.")
    return UnsupportedMediaType(message, details=[{"field": "file", "message": str(message)}])


def detect_format(fileobj: BinaryIO) -> str:
    """CSV or XLSX from the content; 415 for any other type, 422 for an empty file."""
    fileobj.seek(0)
    head = fileobj.read(SNIFF_BYTES)
    fileobj.seek(0)
    if not head:
        raise _invalid(_("The file is empty."))
    if head.startswith(ZIP_MAGIC):
        readable = zipfile.is_zipfile(fileobj)
        fileobj.seek(0)
        if not readable:  # a zip cut off or damaged: most likely a spreadsheet that did not arrive whole
            raise _invalid(_("The XLSX file is damaged or not a spreadsheet."))
        try:
            sniffed = sniff_file(fileobj, filename="contacts.xlsx")
        except UnsupportedMediaType as exc:
            raise _unsupported() from exc
        if sniffed.mime == XLSX:
            return XLSX_FORMAT
        raise _unsupported()
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return CSV  # libmagic calls UTF-16 text "application/octet-stream" at times
    detected = normalise_mime(magic.from_buffer(head, mime=True))
    if detected in TEXT_TYPES or detected in TEXT_GUESSES:
        return CSV
    raise _unsupported()


def detect_encoding(fileobj: BinaryIO) -> str:
    """The encoding the whole file decodes with (see the module's docstring), or 422."""
    fileobj.seek(0)
    head = fileobj.read(4)
    fileobj.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        verdict = _decodes_cleanly(fileobj, encoding, strict_controls=encoding == "cp1252")
        if verdict == "nul":
            raise _invalid(_("The file holds binary data (NUL characters); upload a CSV or XLSX file."))
        if verdict == "ok":
            return encoding
    raise _invalid(_("The file's text encoding could not be read: save it as \"CSV UTF-8\" and try again."))


def _decodes_cleanly(fileobj: BinaryIO, encoding: str, *, strict_controls: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    fileobj.seek(0)
    try:
        while chunk := fileobj.read(CHUNK):
            text = decoder.decode(chunk)
            if "\x00" in text:
                return "nul"
            if strict_controls and _CONTROL.search(text):
                return "bad"
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "bad"
    finally:
        fileobj.seek(0)
    return "ok"


def _delimiter(first_line: str) -> str:
    """The delimiter the header line uses most (Excel writes ";" in much of Europe and Brazil)."""
    counts = {delimiter: first_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _text_stream(fileobj: BinaryIO, encoding: str) -> io.TextIOWrapper:
    fileobj.seek(0)
    return io.TextIOWrapper(fileobj, encoding=encoding, newline="")


def _clean_header(columns: list[str]) -> list[str]:
    """Header names trimmed; blank ones named by position, repeated ones numbered, so each column
    has a name a mapping can use."""
    named, seen = [], set()
    for index, raw in enumerate(columns, start=1):
        name = " ".join(str(raw or "").split())[:100] or _("Column %(n)d") % {"n": index}
        unique, suffix = name, 2
        while unique.lower() in seen:
            unique, suffix = f"{name} ({suffix})", suffix + 1
        seen.add(unique.lower())
        named.append(unique)
    return named


def _blank(row: list[str]) -> bool:
    return not any(str(cell).strip() for cell in row)


def inspect_file(fileobj: BinaryIO) -> FileInfo:
    """Read the whole upload once: 415 for a type other than CSV/XLSX, 422 for an unreadable encoding,
    a damaged XLSX or CSV, a missing header or too many columns. Nothing is stored."""
    fmt = detect_format(fileobj)
    if fmt == XLSX_FORMAT:
        return _inspect_xlsx(fileobj)
    encoding = detect_encoding(fileobj)
    stream = _text_stream(fileobj, encoding)
    try:
        delimiter = _delimiter(stream.readline())
        stream.seek(0)
        reader = csv.reader(stream, delimiter=delimiter)
        header = next(reader, None)
        if header is None or _blank(header):
            raise _invalid(_("The first line must name the columns."))
        total = 0
        for row in reader:
            if not _blank(row):
                total += 1
    except csv.Error as exc:
        raise _invalid(_("The CSV file is damaged near line %(line)d: %(error)s")
                       % {"line": reader.line_num, "error": exc}) from exc
    finally:
        stream.detach()
        fileobj.seek(0)
    if len(header) > MAX_COLUMNS:
        raise _invalid(_("The file has more than %(max)d columns.") % {"max": MAX_COLUMNS})
    return FileInfo(format=CSV, columns=_clean_header(header), total=total, encoding=encoding,
                    delimiter=delimiter)


def _open_workbook(fileobj: BinaryIO):
    from openpyxl import load_workbook

    fileobj.seek(0)
    return load_workbook(fileobj, read_only=True, data_only=True)


def _inspect_xlsx(fileobj: BinaryIO) -> FileInfo:
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            if sum(info.file_size for info in archive.infolist()) > max(size, CHUNK) * MAX_XLSX_INFLATION:
                raise _invalid(_("The XLSX file is damaged or not a spreadsheet."))
            if archive.testzip() is not None:  # every part's checksum: a cut-off or damaged file
                raise _invalid(_("The XLSX file is damaged or not a spreadsheet."))
        workbook = _open_workbook(fileobj)
        try:
            sheet = workbook.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None or _blank([cell_text(cell) for cell in header]):
                raise _invalid(_("The first line must name the columns."))
            header = [cell_text(cell) for cell in header]
            while header and not header[-1].strip():
                header.pop()  # empty cells right of the last named column
            total = max((sheet.max_row or 1) - 1, 0)
        finally:
            workbook.close()
    except ValidationFailed:
        raise
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a broken file
        raise _invalid(_("The XLSX file is damaged or not a spreadsheet.")) from exc
    finally:
        fileobj.seek(0)
    if len(header) > MAX_COLUMNS:
        raise _invalid(_("The file has more than %(max)d columns.") % {"max": MAX_COLUMNS})
    return FileInfo(format=XLSX_FORMAT, columns=_clean_header(header), total=total)


def cell_text(value) -> str:
    """A spreadsheet cell as the text a user typed: 5511987654321.0 stored as a number reads
    "5511987654321", a date "2024-05-01", a boolean "true"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def iter_rows(fileobj: BinaryIO, info: FileInfo) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells as text) of every non-blank data row; the header
    is row 1. Cells are cut to a sane length; a row shorter than the header is padded."""
    width = len(info.columns)
    if info.format == XLSX_FORMAT:
        workbook = _open_workbook(fileobj)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            next(rows, None)
            for number, row in enumerate(rows, start=2):
                cells = [cell_text(cell) for cell in row[:width]]
                if not _blank(cells):
                    yield number, _fit(cells, width)
        finally:
            workbook.close()
        return
    stream = _text_stream(fileobj, info.encoding)
    try:
        reader = csv.reader(stream, delimiter=info.delimiter)
        next(reader, None)
        # Records, not lines: a cell with a line break in it is still one row, as Excel shows it.
        for number, row in enumerate(reader, start=2):
            if not _blank(row):
                yield number, _fit(row[:width], width)
    finally:
        stream.detach()


def _fit(cells: list[str], width: int) -> list[str]:
    cells = [cell.strip()[:MAX_CELL_CHARS] for cell in cells]
    return cells + [""] * (width - len(cells))


def preview_rows(fileobj: BinaryIO, info: FileInfo, count: int = 5) -> list[list[str]]:
    rows = []
    for _number, row in iter_rows(fileobj, info):
        rows.append(row)
        if len(rows) == count:
            break
    fileobj.seek(0)
    return rows


def fold(text: str) -> str:
    """A header as compared with synonyms: no accents, case, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).lower())
