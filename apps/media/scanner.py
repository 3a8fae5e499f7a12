"""Virus scanning with clamd (INSTREAM), for the quarantine of uploaded and received files (SPEC §8).

`scan_stream(fileobj)` sends the whole file to clamd and returns a `ScanResult`; it raises
`ScannerUnavailable` when clamd cannot answer now (down, timeout, connection closed, an ERROR reply):
the caller retries later and the file stays `scanning`. `ScanRefused` means clamd will never scan
this stream (longer than its StreamMaxLength): the caller rejects the file.

The `clamd` package speaks the protocol; its clients are wrapped here because, as released (1.0.2),
they connect without a timeout, leave the socket open when the connection fails (a ResourceWarning),
send each chunk with `send()` (a partial write would corrupt the stream) and, when clamd refuses a
long stream and closes the connection, raise a bare BrokenPipeError and drop clamd's reason. Each call
builds its own client: a client holds one socket and is not thread-safe.
"""

import socket
import struct
import time
from typing import IO, NamedTuple

import clamd
from django.conf import settings

from conversa import metrics

CHUNK_BYTES = 64 * 1024
PING_TIMEOUT_SECONDS = 2.0
SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded. ERROR"


class ScanResult(NamedTuple):
    infected: bool
    signature: str  # what clamd found, e.g. "Win.Test.EICAR_HDB-1"; "" when clean


class ScannerUnavailable(Exception):
    """clamd could not scan now (unreachable, timed out, closed the connection, answered ERROR): retry."""


class ScanRefused(Exception):
    """clamd refuses to scan this stream (larger than its StreamMaxLength): the file cannot be accepted."""


class _SendFailed(Exception):
    """Writing to clamd failed; `reason` is the OSError."""

    def __init__(self, reason: OSError):
        super().__init__(reason)
        self.reason = reason


class _ClientMixin:
    timeout: float | None
    clamd_socket: socket.socket

    def _connect(self) -> socket.socket:
        raise NotImplementedError

    def _init_socket(self) -> None:
        # The timeout applies to the connection too, and a failed connection leaves no open socket.
        try:
            sock = self._connect()
        except OSError as exc:
            raise clamd.ConnectionError(self._error_message(exc)) from exc
        self.clamd_socket = sock

    def _close_socket(self) -> None:
        sock = self.__dict__.pop("clamd_socket", None)
        if sock is not None:
            sock.close()

    def _send(self, data: bytes) -> None:
        try:
            self.clamd_socket.sendall(data)
        except OSError as exc:
            raise _SendFailed(exc) from exc

    def instream(self, buff: IO[bytes]) -> dict[str, tuple[str, str | None]]:
        """`{"stream": (status, signature)}`; raises clamd.BufferTooLongError or clamd.ConnectionError.

        Errors reading `buff` are not caught.
        """
        self._init_socket()
        try:
            try:
                self._send(b"nINSTREAM\n")
                chunk = buff.read(CHUNK_BYTES)
                while chunk:
                    self._send(struct.pack("!L", len(chunk)) + chunk)
                    chunk = buff.read(CHUNK_BYTES)
                self._send(struct.pack("!L", 0))
            except _SendFailed as failure:
                # clamd writes why and closes the connection as soon as a stream exceeds StreamMaxLength;
                # the reply is still readable after our write failed.
                reply = self._reply_after_failure()
                if reply == SIZE_LIMIT_REPLY:
                    raise clamd.BufferTooLongError(reply) from failure.reason
                raise clamd.ConnectionError(
                    f"clamd closed the connection during INSTREAM: {failure.reason!r}"
                    + (f" (it said {reply!r})" if reply else "")
                ) from failure.reason
            reply = self._recv_response()
            if not reply:
                raise clamd.ConnectionError("clamd closed the connection without answering INSTREAM")
            if reply == SIZE_LIMIT_REPLY:
                raise clamd.BufferTooLongError(reply)
            filename, signature, status = self._parse_response(reply)
            return {filename: (status, signature)}
        finally:
            self._close_socket()

    def _reply_after_failure(self) -> str:
        try:
            self.clamd_socket.settimeout(min(self.timeout or 2.0, 2.0))
            return self._recv_response()
        except (OSError, clamd.ClamdError):
            return ""


class _UnixClient(_ClientMixin, clamd.ClamdUnixSocket):
    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_socket)
        except BaseException:
            sock.close()
            raise
        return sock


class _NetworkClient(_ClientMixin, clamd.ClamdNetworkSocket):
    def _connect(self) -> socket.socket:
        # create_connection closes its socket when it fails, and resolves names (e.g. a compose service).
        return socket.create_connection((self.host, self.port), timeout=self.timeout)


def _client(timeout: float) -> _ClientMixin:
    if settings.CLAMD_SOCKET:
        return _UnixClient(settings.CLAMD_SOCKET, timeout=timeout)
    return _NetworkClient(settings.CLAMD_HOST, settings.CLAMD_PORT, timeout=timeout)


def scan_stream(fileobj: IO[bytes]) -> ScanResult:
    """Scan a binary file object with clamd, from its start when it is seekable (else from where it is).

    Raises ScannerUnavailable (retry later) or ScanRefused (too long for clamd: reject the file).
    """
    seekable = getattr(fileobj, "seekable", None)
    if seekable is not None and seekable():
        fileobj.seek(0)
    client = _client(settings.CLAMD_TIMEOUT_SECONDS)
    with metrics.timed(metrics.CLAMD_SCAN, result="unavailable") as timer:
        try:
            reply = client.instream(fileobj)
        except clamd.BufferTooLongError as exc:
            timer.labels["result"] = "refused"
            raise ScanRefused("clamd refused the stream: longer than its StreamMaxLength") from exc
        except clamd.ClamdError as exc:  # ConnectionError (also timeouts) and ResponseError
            raise ScannerUnavailable(f"clamd: {exc}") from exc
        ((status, signature),) = reply.values()
        timer.labels["result"] = {"FOUND": "infected", "OK": "clean"}.get(status, "unavailable")
    if status == "FOUND":
        return ScanResult(infected=True, signature=signature or "")
    if status == "OK":
        return ScanResult(infected=False, signature="")
    raise ScannerUnavailable(f"clamd could not scan the stream: {status} {signature or ''}".rstrip())


def ping(timeout: float | None = None) -> tuple[bool, float]:
    """Whether clamd answers PING, and how long the attempt took in milliseconds (for /health/ready).

    The timeout defaults to the shorter of CLAMD_TIMEOUT_SECONDS and 2 s: a readiness probe must not hang.
    """
    if timeout is None:
        timeout = min(settings.CLAMD_TIMEOUT_SECONDS, PING_TIMEOUT_SECONDS)
    started = time.perf_counter()
    try:
        ok = _client(timeout).ping() == "PONG"
    except (clamd.ClamdError, OSError):
        ok = False
    return ok, (time.perf_counter() - started) * 1000
