"""Sniffing with the real libmagic: what a file is, whatever its name or declared type says (no database)."""

import io
import json

import pytest

from conversa.errors import domain_error_response
from conversa.files.sniffing import (
    ALLOWED,
    EXTENSIONS,
    SNIFF_BYTES,
    FileTooLarge,
    Sniffed,
    UnsupportedMediaType,
    check_size,
    limit_for,
    safe_filename,
    sniff,
    sniff_file,
)
from tests.fixtures import media_files as f
from tests.fixtures.media_files import DOCX_MIME, XLSX_MIME

MiB = 1024 * 1024


def sniffed(data: bytes, filename: str, declared: str | None = None) -> Sniffed:
    return sniff_file(io.BytesIO(data), filename=filename, declared_type=declared)


def refused(data: bytes, filename: str, declared: str | None = None) -> UnsupportedMediaType:
    with pytest.raises(UnsupportedMediaType) as caught:
        sniffed(data, filename, declared)
    return caught.value


@pytest.mark.parametrize(
    "filename, data, declared, mime, kind, extension",
    [
        ("photo.jpg", f.jpeg(), "image/jpeg", "image/jpeg", "image", ".jpg"),
        ("IMG_0001.JPEG", f.jpeg(), "image/jpg", "image/jpeg", "image", ".jpg"),
        ("screen.png", f.png(), "image/png", "image/png", "image", ".png"),
        ("sticker.webp", f.webp(), "image/webp", "image/webp", "image", ".webp"),
        ("funny.gif", f.gif(frames=3), "image/gif", "image/gif", "image", ".gif"),
        ("clip.mp4", f.mp4(), "video/mp4", "video/mp4", "video", ".mp4"),
        ("song.mp3", f.mp3(), "audio/mpeg", "audio/mpeg", "audio", ".mp3"),
        ("song.mp3", f.mp3(), "audio/mp3", "audio/mpeg", "audio", ".mp3"),
        ("voice.ogg", f.ogg_opus(), "audio/ogg; codecs=opus", "audio/ogg", "audio", ".ogg"),
        ("voice.opus", f.ogg_opus(), "audio/opus", "audio/ogg", "audio", ".ogg"),
        ("memo.m4a", f.mp4(b"M4A "), "audio/x-m4a", "audio/mp4", "audio", ".m4a"),
        ("memo.m4a", f.mp4(b"isom"), "audio/mp4", "audio/mp4", "audio", ".m4a"),  # libmagic: video/mp4
        ("memo.aac", f.aac_adts(), "audio/aac", "audio/aac", "audio", ".aac"),
        ("take.wav", f.wav(), "audio/wav", "audio/wav", "audio", ".wav"),
        ("take.wav", f.wav(), "audio/x-wav", "audio/wav", "audio", ".wav"),
        ("contract.pdf", f.PDF, "application/pdf", "application/pdf", "document", ".pdf"),
        ("contract.docx", f.docx(), DOCX_MIME, DOCX_MIME, "document", ".docx"),
        ("contract.docx", f.docx(content_types_first=False), DOCX_MIME, DOCX_MIME, "document", ".docx"),
        ("sheet.xlsx", f.xlsx(), XLSX_MIME, XLSX_MIME, "document", ".xlsx"),
        ("sheet.xlsx", f.xlsx(), "application/zip", XLSX_MIME, "document", ".xlsx"),
        ("contacts.csv", f.CSV_COMMA, "text/csv", "text/csv", "document", ".csv"),
        ("contacts.csv", f.CSV_SEMICOLON, "text/csv", "text/csv", "document", ".csv"),  # libmagic: text/plain
        ("contacts.csv", f.CSV_COMMA, "application/vnd.ms-excel", "text/csv", "document", ".csv"),
        ("notes.txt", f.TXT, "text/plain", "text/plain", "document", ".txt"),
        ("numbers.txt", f.CSV_COMMA, "text/plain", "text/plain", "document", ".txt"),  # libmagic: text/csv
        ("main.txt", b"#include <stdio.h>\nint main(void) { return 0; }\n", None, "text/plain", "document",
         ".txt"),  # libmagic: text/x-c
        ("script.txt", b"#!/bin/sh\necho hi\n", None, "text/plain", "document", ".txt"),
        ("data.txt", b'{"a": [1, 2]}\n', "text/plain", "text/plain", "document", ".txt"),
    ],
)
def test_allowed_files_get_one_canonical_type(filename, data, declared, mime, kind, extension):
    assert sniffed(data, filename, declared) == Sniffed(mime=mime, kind=kind, extension=extension)


def test_every_allowed_type_has_a_kind_and_extensions():
    assert set(ALLOWED) == {"image", "video", "audio", "document"}
    assert {mime for mimes in ALLOWED.values() for mime in mimes} == set(EXTENSIONS)
    assert "image/svg+xml" not in EXTENSIONS


@pytest.mark.parametrize(
    "declared", [None, "", "application/octet-stream", "binary/octet-stream", "APPLICATION/OCTET-STREAM"]
)
def test_generic_declared_types_are_ignored(declared):
    assert sniffed(f.png(), "a.png", declared).mime == "image/png"


@pytest.mark.parametrize(
    "filename", ["photo", "Invoice 12.03.2024", "report.final", "C:\\Users\\ana\\photo.jpg", "photo.jpg."]
)
def test_names_without_a_known_extension_do_not_contradict(filename):
    assert sniffed(f.jpeg(), filename).mime == "image/jpeg"


@pytest.mark.parametrize(
    "filename, data, declared",
    [
        ("photo.jpg", f.HTML, "image/jpeg"),  # HTML renamed .jpg
        ("manual.pdf", f.ELF, "application/pdf"),  # ELF renamed .pdf
        ("image.png", f.PDF, "image/png"),  # declared image/png, is a PDF
        ("image.pdf", f.PDF, "image/png"),  # right name, lying declared type
        ("logo.svg", f.SVG, "image/svg+xml"),  # SVG: scripts
        ("logo.png", f.SVG, "image/png"),
        ("photo.jpg", f.png(), "image/jpeg"),  # PNG named .jpg
        ("photo.jpg", f.png(), None),
        ("photo.jpg.exe", f.jpeg(), None),  # a known extension that is not this type
        ("page.txt", f.HTML, "text/plain"),  # HTML is never plain text
        ("voice.ogg", f.ogg_vorbis(), "audio/ogg"),  # OGG, but not Opus
        ("clip.mp4", f.mp4(b"qt  "), "video/mp4"),  # QuickTime
        ("archive.zip", f.zip_of([("a.txt", b"hi")]), "application/zip"),
        ("contract.docx", f.zip_of([("a.txt", b"hi")]), DOCX_MIME),  # a zip that is not a document
        ("contract.docx", f.xlsx(), DOCX_MIME),  # a spreadsheet named .docx
        ("macro.docx", f.docx(extra=[("word/vbaProject.bin", b"\x00" * 64)]), DOCX_MIME),
        ("script.sh", b"#!/bin/sh\nrm -rf /\n", None),
        ("empty.txt", b"", "text/plain"),
    ],
)
def test_lies_and_unsupported_types_are_415(filename, data, declared):
    error = refused(data, filename, declared)
    assert error.status == 415 and error.code == "unsupported_media_type"
    body = json.loads(domain_error_response(error).content)
    assert body["error"]["code"] == "unsupported_media_type" and body["error"]["message"]


def test_the_refusal_says_what_was_found():
    assert refused(f.HTML, "photo.jpg").details["detected"] == "text/html"
    mismatch = refused(f.png(), "photo.jpg")
    assert mismatch.details == {"detected": "image/png", "extension": ".jpg"}
    declared = refused(f.PDF, "doc.pdf", "image/png")
    assert declared.details == {"detected": "application/pdf", "declared": "image/png"}


def test_an_mp3_behind_a_big_id3_picture_is_found_past_the_tag():
    data = f.mp3(id3_picture_bytes=200_000)
    assert len(data) > SNIFF_BYTES
    assert sniffed(data, "song.mp3").mime == "audio/mpeg"
    with pytest.raises(UnsupportedMediaType):  # the head alone cannot tell
        sniff(data[:SNIFF_BYTES], filename="song.mp3")
    small_tag = f.mp3(id3_picture_bytes=30_000)
    assert sniff(small_tag[:SNIFF_BYTES], filename="song.mp3").mime == "audio/mpeg"


def test_sniff_reads_a_small_zip_from_its_head_and_the_file_is_rewound():
    assert sniff(f.docx(content_types_first=False), filename="a.docx").mime == DOCX_MIME
    stream = io.BytesIO(f.xlsx())
    stream.seek(5)
    assert sniff_file(stream, filename="sheet.xlsx").mime == XLSX_MIME
    assert stream.tell() == 0


def test_a_big_docx_is_confirmed_from_the_whole_file():
    padding = ("word/media/image1.png", f.noise((300, 300)).tobytes())  # stored uncompressible
    data = f.docx(extra=[padding])
    assert len(data) > SNIFF_BYTES
    assert sniffed(data, "big.docx").mime == DOCX_MIME
    # From the head alone libmagic's word is taken (no central directory to read).
    assert sniff(data[:SNIFF_BYTES], filename="big.docx").mime == DOCX_MIME


def test_a_zip_with_too_many_entries_is_refused_before_reading_them(monkeypatch):
    monkeypatch.setattr("conversa.files.sniffing.MAX_ZIP_ENTRIES", 2)
    refused(f.docx(), "contract.docx")


# --- sizes ----------------------------------------------------------------------------------------


def test_limits_come_from_settings(settings):
    assert limit_for("image") == limit_for("video") == limit_for("audio") == 16 * MiB
    assert limit_for("document") == 100 * MiB
    settings.MEDIA_MAX_BYTES = {**settings.MEDIA_MAX_BYTES, "image": 1000}
    assert limit_for("image") == 1000
    with pytest.raises(ValueError):
        limit_for("sticker")


def test_an_image_over_16_mib_is_413():
    data = f.jpeg() + b"\x00" * (16 * MiB + 1 - len(f.jpeg()))
    assert len(data) == 16 * MiB + 1
    kind = sniffed(data, "big.jpg", "image/jpeg").kind
    check_size(kind, 16 * MiB)  # exactly the limit is fine
    with pytest.raises(FileTooLarge) as caught:
        check_size(kind, len(data))
    error = caught.value
    assert error.status == 413 and error.code == "file_too_large"
    assert error.details == {"limit": 16 * MiB, "kind": "image", "size": 16 * MiB + 1}
    assert "16.0" in error.message
    body = json.loads(domain_error_response(error).content)
    assert body["error"]["code"] == "file_too_large" and body["error"]["details"]["limit"] == 16 * MiB


def test_documents_may_be_bigger():
    check_size("document", 100 * MiB)
    with pytest.raises(FileTooLarge):
        check_size("document", 100 * MiB + 1)


# --- file names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\Desktop\\relatório final.pdf", "relatório final.pdf"),
        ('"quoted" \'name\'.txt', "quoted name.txt"),
        ("line\r\nbreak\x00.txt", "line break.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override dropped
        ("Привет мир.docx", "Привет мир.docx"),
        ("写真.jpeg", "写真.jpeg"),
        ("café.png", "café.png"),  # NFC
        ("<script>alert(1)</script>.html", "script.html"),
        ("   spaced    out  .pdf", "spaced out.pdf"),
        (".htaccess", "htaccess"),
        (".pdf", "pdf"),
        ("", "file"),
        (None, "file"),
        ("../..", "file"),
        ("\x00\x01", "file"),
        ("CON.txt", "_CON.txt"),
        ("a;b|c?d*e:f.csv", "abcdef.csv"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_keeps_the_extension_within_150_characters():
    name = "á" * 400 + ".xlsx"
    safe = safe_filename(name)
    assert len(safe) == 150 and safe.endswith(".xlsx") and safe.startswith("á")


def test_safe_filename_can_add_the_sniffed_extension():
    assert safe_filename("voice note", default_extension=".ogg") == "voice note.ogg"
    assert safe_filename("", default_extension=".jpg") == "file.jpg"
    assert safe_filename("memo.m4a", default_extension=".mp4") == "memo.m4a"
