"""The outbound-address guard refuses our own network unless the operator allows it."""

import socket

import pytest

from conversa.netguard import UnresolvableHost, UnsafeOutboundURL, check_outbound_url


@pytest.fixture
def strict(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False


@pytest.fixture
def fake_dns(monkeypatch):
    """Answer name lookups from a table (DNS is outside the project; literals still resolve)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            return real(host, port, *args, **kwargs)
        if not table[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook",
    "http://localhost/",
    "http://[::1]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://100.64.0.1/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    # Legacy numeric forms that resolvers turn into 127.0.0.1.
    "http://2130706433/",
    "http://0x7f.1/",
])
def test_non_public_addresses_are_refused(strict, url):
    with pytest.raises(UnsafeOutboundURL):
        check_outbound_url(url)


@pytest.mark.parametrize("url", [
    "https://8.8.8.8/",
    "http://[2606:4700:4700::1111]:8080/path?q=1",
])
def test_public_addresses_pass(strict, url):
    check_outbound_url(url)


def test_a_public_name_passes(strict, fake_dns):
    fake_dns["graph.example.com"] = ["157.240.1.1", "2a03:2880:f10c:83:face:b00c:0:25de"]
    check_outbound_url("https://graph.example.com/v21.0/123/messages")


def test_a_name_with_any_private_address_is_refused(strict, fake_dns):
    # The client may connect to any address the name has, so one bad address is enough.
    fake_dns["mixed.example.com"] = ["157.240.1.1", "10.0.0.5"]
    with pytest.raises(UnsafeOutboundURL, match="10.0.0.5"):
        check_outbound_url("https://mixed.example.com/")


def test_a_name_that_does_not_resolve_is_refused_as_unresolvable(strict, fake_dns):
    fake_dns["nowhere.example.com"] = []
    with pytest.raises(UnresolvableHost):
        check_outbound_url("https://nowhere.example.com/")


def test_nothing_is_cached_between_checks(strict, fake_dns):
    fake_dns["rebind.example.com"] = ["157.240.1.1"]
    check_outbound_url("https://rebind.example.com/")
    fake_dns["rebind.example.com"] = ["127.0.0.1"]
    with pytest.raises(UnsafeOutboundURL):
        check_outbound_url("https://rebind.example.com/")


@pytest.mark.parametrize("url", [
    "ftp://8.8.8.8/file",
    "file:///etc/passwd",
    "gopher://8.8.8.8/",
    "8.8.8.8/path",
    "http:///path",
    "http://8.8.8.8:99999/",
])
def test_other_schemes_missing_hosts_and_bad_ports_are_refused(strict, url):
    with pytest.raises(UnsafeOutboundURL):
        check_outbound_url(url)


def test_the_operator_may_allow_private_addresses(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    check_outbound_url("http://127.0.0.1:8000/")
    check_outbound_url("http://169.254.169.254/")
    # The scheme and host rules still hold.
    with pytest.raises(UnsafeOutboundURL):
        check_outbound_url("file:///etc/passwd")
