"""The default TXT lookup (dnspython) against a small DNS server of the test's own on 127.0.0.1."""

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from tenants import dns as tenant_dns


class FakeDnsServer:
    """Answers TXT queries over UDP from `zone`; NXDOMAIN for other names; silent when `mute`."""

    def __init__(self, zone: dict[str, list[list[bytes]]]):
        self.zone = zone
        self.mute = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                wire, address = self.sock.recvfrom(4096)
            except OSError:
                return
            if self.mute:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            response = dns.message.make_response(query)
            name = question.name.to_text(omit_final_dot=True)
            if name not in self.zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and self.zone[name]:
                texts = [" ".join('"' + part.decode() + '"' for part in record) for record in self.zone[name]]
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", *texts))
            self.sock.sendto(response.to_wire(), address)

    def close(self):
        self.sock.close()


@pytest.fixture
def dns_server(settings):
    server = FakeDnsServer({
        "_conversa-challenge.support.acme.test": [[b"conversa-verify-abc"], [b"v=spf1 -all"]],
        # A value over 255 bytes is published as several character-strings of one record.
        "_conversa-challenge.long.acme.test": [[b"a" * 255, b"b" * 10]],
        "_conversa-challenge.empty.acme.test": [],  # the name exists, without a TXT record
    })
    settings.DOMAIN_DNS_NAMESERVERS = ["127.0.0.1"]
    settings.DOMAIN_DNS_PORT = server.port
    settings.DOMAIN_DNS_TIMEOUT_SECONDS = 1
    yield server
    server.close()


def test_txt_records_are_read_from_the_configured_resolver(dns_server):
    assert sorted(tenant_dns.txt_records("_conversa-challenge.support.acme.test")) == [
        "conversa-verify-abc", "v=spf1 -all"]


def test_the_strings_of_one_record_are_joined(dns_server):
    assert tenant_dns.txt_records("_conversa-challenge.long.acme.test") == ["a" * 255 + "b" * 10]


def test_a_missing_name_or_record_is_an_empty_list(dns_server):
    assert tenant_dns.txt_records("_conversa-challenge.nobody.acme.test") == []
    assert tenant_dns.txt_records("_conversa-challenge.empty.acme.test") == []


def test_a_resolver_that_does_not_answer_is_a_failed_lookup(dns_server):
    dns_server.mute = True
    with pytest.raises(tenant_dns.DnsLookupFailed):
        tenant_dns.txt_records("_conversa-challenge.support.acme.test")
