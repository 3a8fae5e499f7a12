"""The outbound-address guard: refuse HTTP to our own network before a request is made (SPEC §12).

Anything that sends HTTP to an address a tenant chose (provider base URLs, outbound webhooks, flow
`http` nodes) calls `check_outbound_url` first. Development and tests allow loopback and private
addresses with `settings.OUTBOUND_ALLOW_PRIVATE`; production refuses them.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services. 169.254.169.254 is link-local anyway; it is named so the intent survives
# any change to the generic checks, and AWS's IPv6 endpoint sits in the private fd00::/8 range.
METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
})
# IPv6 prefixes that carry an IPv4 address in their low 32 bits (NAT64, RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeOutboundURL(ValueError):
    """The URL is not one we may send requests to."""


class UnresolvableHost(UnsafeOutboundURL):
    """The host name did not resolve, so its addresses could not be checked.

    A subclass because callers may want to retry later: DNS failures are often transient.
    """


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_unsafe_address(ip: IPAddress) -> bool:
    """True for loopback, private, link-local, reserved, multicast, unspecified or metadata addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and is_unsafe_address(embedded):
            return True
    return (
        ip in METADATA_ADDRESSES
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        # Catches what the flags above miss, such as carrier-grade NAT (100.64.0.0/10).
        or not ip.is_global
    )


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve host {host!r}") from exc
    if not infos:
        raise UnresolvableHost(f"host {host!r} has no addresses")
    # Link-local IPv6 results may carry a zone ("fe80::1%eth0").
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_outbound_url(url: str) -> None:
    """Raise UnsafeOutboundURL unless `url` is http(s) with a host whose every address is public.

    Every address the name resolves to must be safe, since the HTTP client may pick any of them.
    Nothing is cached, but this is a check before the request, not a pin: a DNS server that answers
    differently a moment later (DNS rebinding) can still steer the real request elsewhere. Callers
    that fetch attacker-chosen URLs should also refuse redirects they have not checked.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeOutboundURL(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise UnsafeOutboundURL("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeOutboundURL("the URL has an invalid port") from exc
    if settings.OUTBOUND_ALLOW_PRIVATE:
        return
    for ip in _resolve(host, port):
        if is_unsafe_address(ip):
            raise UnsafeOutboundURL(f"{host!r} resolves to a non-public address ({ip})")
