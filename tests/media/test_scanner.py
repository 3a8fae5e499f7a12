"""apps.media.scanner against a real clamd with the project's test signatures.

clamd caches results by content, so every test scans bytes of its own (random padding).
"""

import gc
import io
import os
import shutil
import socket
import subprocess
import threading
import time
import warnings
import zipfile
import zlib
from contextlib import contextmanager

import pytest

from apps.media.scanner import ScannerUnavailable, ScanRefused, ScanResult, ping, scan_stream
from tests.fixtures.clamd import (
    CLAMAV_DIR,
    EICAR,
    EICAR_HASH_SIGNATURE,
    EICAR_SIGNATURE,
    MARKER,
    MARKER_SIGNATURE,
    PDF_MARKER,
    PDF_MARKER_SIGNATURE,
    free_port,
    start_clamd,
)

CLEAN = ScanResult(infected=False, signature="")


def scan(data: bytes) -> ScanResult:
    return scan_stream(io.BytesIO(data))


def noise(size: int = 256) -> bytes:
    return os.urandom(size)


def zip_with(name: str, content: bytes, compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        archive.writestr("readme.txt", noise(64).hex())
        archive.writestr(name, content)
    return buffer.getvalue()


def pdf_with_flate_stream(content: bytes) -> bytes:
    stream = zlib.compress(content)
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"3 0 obj\n<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\nstream\n"
        + stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


@contextmanager
def no_resource_warnings():
    gc.collect()  # garbage other tests left behind is theirs, not this block's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]


# --- verdicts ---------------------------------------------------------------------------------------

def test_clean_bytes(clamd_settings):
    assert scan(b"hello, this is a perfectly ordinary message\n" + noise()) == CLEAN


def test_empty_stream_is_clean(clamd_settings):
    # clamd caches by content: the empty stream may have been scanned before, the verdict is the same.
    assert scan(b"") == CLEAN


def test_eicar(clamd_settings):
    assert scan(EICAR) == ScanResult(infected=True, signature=EICAR_SIGNATURE)


def test_scans_from_the_start_of_a_seekable_file(clamd_settings):
    fileobj = io.BytesIO(EICAR + noise())
    fileobj.seek(0, io.SEEK_END)  # e.g. a file just written by the upload view
    assert scan_stream(fileobj) == ScanResult(infected=True, signature=EICAR_SIGNATURE)


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
def test_eicar_inside_a_zip(clamd_settings, compression):
    archive = zip_with("eicar.com", EICAR + noise(16), compression)
    if compression == zipfile.ZIP_DEFLATED:
        assert EICAR not in archive  # found only by unpacking (ScanArchive)
    assert scan(archive) == ScanResult(infected=True, signature=EICAR_SIGNATURE)


def test_eicar_in_the_middle_of_a_pdf_looking_file(clamd_settings):
    data = b"%PDF-1.7\n" + noise(300_000) + EICAR + noise(300_000)
    assert scan(data) == ScanResult(infected=True, signature=EICAR_SIGNATURE)


def test_custom_marker_anywhere(clamd_settings):
    data = b"\x89PNG\r\n\x1a\n" + noise(5000) + MARKER + noise(5000)
    assert scan(data) == ScanResult(infected=True, signature=MARKER_SIGNATURE)


def test_custom_marker_in_compressed_containers(clamd_settings):
    archive = zip_with("doc.txt", b"text " + MARKER + noise(32), zipfile.ZIP_DEFLATED)
    pdf = pdf_with_flate_stream(b"BT (" + MARKER + b") Tj ET " + noise(32).hex().encode())
    assert MARKER not in archive and MARKER not in pdf
    assert scan(archive) == ScanResult(infected=True, signature=MARKER_SIGNATURE)
    assert scan(pdf) == ScanResult(infected=True, signature=MARKER_SIGNATURE)  # ScanPDF


def test_pdf_marker_only_in_pdf_files(clamd_settings):
    pdf = b"%PDF-1.4\n" + noise(1000) + PDF_MARKER + noise(1000)
    assert scan(pdf) == ScanResult(infected=True, signature=PDF_MARKER_SIGNATURE)
    assert scan(b"plain text " + PDF_MARKER + noise(32).hex().encode()) == CLEAN


def test_hash_signature_database(tmp_path):
    """The .hdb entry is valid and matches the EICAR file (with both databases the body signature wins)."""
    clamscan = shutil.which("clamscan")
    if clamscan is None:
        pytest.fail("clamscan is not installed: run deploy/bootstrap.sh (package clamav)", pytrace=False)
    sample = tmp_path / "eicar.com"
    sample.write_bytes(EICAR)
    result = subprocess.run(
        [clamscan, "--no-summary", "-d", str(CLAMAV_DIR / "conversa-test.hdb"), str(sample)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{EICAR_HASH_SIGNATURE} FOUND" in result.stdout


def test_20_mb_clean_stream(clamd_settings):
    started = time.monotonic()
    assert scan(noise(20 * 1024 * 1024)) == CLEAN
    assert time.monotonic() - started < 20


def test_over_tcp(clamd_settings, settings):
    settings.CLAMD_SOCKET = ""
    settings.CLAMD_HOST = "127.0.0.1"
    settings.CLAMD_PORT = clamd_settings.tcp_port
    assert scan(noise(1000) + EICAR) == ScanResult(infected=True, signature=EICAR_SIGNATURE)
    assert scan(noise(1000)) == CLEAN
    assert ping()[0] is True


# --- streams clamd refuses --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_clamd(tmp_path_factory):
    """A second clamd whose limits are 1 MiB, to exercise what a too long stream does."""
    server = start_clamd(
        tmp_path_factory.mktemp("clamd-small"), tcp_port=free_port(),
        overrides={"StreamMaxLength": "1M", "MaxFileSize": "1M"},
    )
    yield server
    server.stop()


@pytest.fixture
def small_clamd_settings(small_clamd, settings):
    small_clamd.start()
    settings.CLAMD_SOCKET = str(small_clamd.socket_path)
    return small_clamd


def test_stream_at_the_limit_is_scanned(small_clamd_settings):
    data = EICAR + noise(1024 * 1024 - len(EICAR))
    assert scan(data) == ScanResult(infected=True, signature=EICAR_SIGNATURE)


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 8 * 1024 * 1024], ids=["one-byte-over", "far-over"])
@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_stream_over_the_limit_is_refused(small_clamd_settings, settings, size, transport):
    # Far over the limit clamd closes the connection while we are still sending: the write fails with a
    # broken pipe, and the reply clamd wrote first still says why.
    if transport == "tcp":
        settings.CLAMD_SOCKET = ""
        settings.CLAMD_PORT = small_clamd_settings.tcp_port
    with no_resource_warnings(), pytest.raises(ScanRefused):
        scan(EICAR + noise(size - len(EICAR)))


# --- clamd unavailable ------------------------------------------------------------------------------

def test_clamd_down_then_back(clamd_settings):
    data = noise(2000) + EICAR
    clamd_settings.stop()
    try:
        assert not clamd_settings.running
        with no_resource_warnings():
            started = time.monotonic()
            with pytest.raises(ScannerUnavailable):
                scan(data)
            ok, latency_ms = ping()
            assert time.monotonic() - started < 2
        assert ok is False and latency_ms < 2000
    finally:
        clamd_settings.start()
    assert clamd_settings.running
    assert scan(data) == ScanResult(infected=True, signature=EICAR_SIGNATURE)


def test_nothing_listening_on_tcp(settings):
    settings.CLAMD_SOCKET = ""
    settings.CLAMD_HOST = "127.0.0.1"
    settings.CLAMD_PORT = free_port()
    with no_resource_warnings():
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable):
            scan(noise())
        assert ping()[0] is False
        assert time.monotonic() - started < 2


@contextmanager
def fake_clamd(tmp_path, reply: bytes | None):
    """A Unix socket that accepts one connection, answers `reply` at once and closes it (None: stays
    silent until the test is over)."""
    path = tmp_path / "fake.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    done = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            if reply is None:
                done.wait(10)
            else:
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        done.set()
        thread.join(5)
        listener.close()


def test_timeout_is_unavailable(settings, tmp_path):
    settings.CLAMD_TIMEOUT_SECONDS = 0.3
    with fake_clamd(tmp_path, reply=None) as path:
        settings.CLAMD_SOCKET = str(path)
        with no_resource_warnings():
            started = time.monotonic()
            with pytest.raises(ScannerUnavailable):
                scan(noise())
            assert time.monotonic() - started < 2


@pytest.mark.parametrize("reply", [b"stream: Can't allocate memory ERROR\n", b"UNKNOWN COMMAND\n", b""])
def test_error_reply_is_unavailable(settings, tmp_path, reply):
    settings.CLAMD_TIMEOUT_SECONDS = 2
    with fake_clamd(tmp_path, reply=reply) as path:
        settings.CLAMD_SOCKET = str(path)
        with no_resource_warnings(), pytest.raises(ScannerUnavailable):
            scan(noise())


# --- ping -------------------------------------------------------------------------------------------

def test_ping(clamd_settings):
    ok, latency_ms = ping()
    assert ok is True
    assert 0 < latency_ms < 1000
