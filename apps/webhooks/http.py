"""One webhook POST, to an address checked by the outbound guard and pinned for the request.

`conversa.netguard.check_outbound_url` checks the URL, then the host is resolved once here and the
connection goes to an address from that answer, checked again (unless the operator allows private
addresses): a DNS server that answers a public address to the check and a private one a moment
later (DNS rebinding) cannot steer the request. TLS still verifies the certificate against the host
name. Redirects are never followed: a 3xx is an answer like any other (a failed attempt).
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from conversa.netguard import UnresolvableHost, UnsafeOutboundURL, check_outbound_url, is_unsafe_address

USER_AGENT = "Conversa-Webhooks/1.0"
EXCERPT_BYTES = 2000


@dataclass
class Attempt:
    status: int | None
    body_excerpt: str
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _pinned_address(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve host {host!r}") from exc
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses:
        raise UnresolvableHost(f"host {host!r} has no addresses")
    if not settings.OUTBOUND_ALLOW_PRIVATE:
        for address in addresses:
            if is_unsafe_address(ipaddress.ip_address(address)):
                raise UnsafeOutboundURL(f"{host!r} resolves to a non-public address ({address})")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # SNI and certificate checks against the name, whichever address was connected to.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Attempt:
    """POST `body` to `url`; never raises for network trouble: the Attempt says what happened.

    `timeout` bounds the whole attempt (connect, send, answer), not only each socket operation.
    """
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        check_outbound_url(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _pinned_address(parts.hostname, port)
    except UnsafeOutboundURL as exc:
        return Attempt(None, "", took(), f"refused: {exc}")
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(parts.hostname, port, address, timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.connect()
        connection.sock.settimeout(max(0.05, timeout - (time.monotonic() - started)))
        connection.request("POST", target, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers,
        })
        response = connection.getresponse()
        excerpt = b""
        while len(excerpt) < EXCERPT_BYTES:
            if time.monotonic() - started > timeout:
                raise TimeoutError("the answer took too long")
            connection.sock.settimeout(max(0.05, timeout - (time.monotonic() - started)))
            chunk = response.read1(EXCERPT_BYTES - len(excerpt))
            if not chunk:
                break
            excerpt += chunk
        return Attempt(response.status, excerpt.decode("utf-8", "replace"), took())
    except (OSError, http.client.HTTPException) as exc:
        kind = "timeout" if isinstance(exc, TimeoutError | socket.timeout) else exc.__class__.__name__
        return Attempt(None, "", took(), f"{kind}: {exc}"[:500])
    finally:
        connection.close()
