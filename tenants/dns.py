"""The one DNS lookup of the platform: TXT records, for custom-domain verification.

`txt_records` is looked up as `tenants.dns.txt_records` at call time, so tests (and deployments
with their own resolver) replace this one function; nothing else in the project talks to DNS.
"""

import dns.exception
import dns.resolver
from django.conf import settings


class DnsLookupFailed(Exception):
    """The resolver did not answer (timeout, no nameserver): nothing is known about the name."""


def txt_records(name: str) -> list[str]:
    """The TXT strings published at `name` ([] when the name or the record does not exist).

    Each record's character-strings are joined, as a TXT value longer than 255 bytes is split into
    several. Raises DnsLookupFailed when no answer could be had.
    """
    if settings.DOMAIN_DNS_NAMESERVERS:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(settings.DOMAIN_DNS_NAMESERVERS)
        resolver.port = settings.DOMAIN_DNS_PORT
    else:
        resolver = dns.resolver.Resolver()  # the machine's /etc/resolv.conf
    resolver.lifetime = settings.DOMAIN_DNS_TIMEOUT_SECONDS
    try:
        answer = resolver.resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration,
            dns.resolver.LifetimeTimeout) as exc:
        raise DnsLookupFailed(str(exc)) from exc
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
