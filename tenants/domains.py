"""Custom domains of a company (plan feature `white_label`): add, verify, make primary, remove.

A custom domain is served only once verified: the company publishes a TXT record
`_conversa-challenge.{domain}` whose value is the domain's token, and `domain_verify` finds it
through `tenants.dns.txt_records` (the one replaceable DNS lookup). The company's own
`{slug}.{BASE_DOMAIN}` is always verified and can be neither added nor removed here.
"""

import re
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.errors import Conflict, DomainError, NotFound, ValidationFailed
from conversa.request_meta import RequestMeta
from tenants import dns
from tenants.audit import platform_audit_record
from tenants.hosts import custom_hosts_changed, is_platform_host
from tenants.limits import ensure_feature
from tenants.models import Company, Domain

MAX_CUSTOM_DOMAINS = 10
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class DomainNotVerified(DomainError):
    status = 422
    code = "domain_not_verified"
    default_message = _("The TXT record was not found. DNS changes can take a while to appear.")


def _invalid(message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": "domain", "message": str(message)}])


def normalise_hostname(value: str) -> str:
    """A host name as stored: lower case, ASCII (IDNA), no trailing dot; ValidationFailed if it
    is not a public host name a company may claim."""
    name = (value or "").strip().lower().rstrip(".")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise _invalid(_("Enter a valid domain name, like support.example.com.")) from None
    labels = name.split(".")
    if (
        len(name) > 253 or len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()  # an IP address, not a name
    ):
        raise _invalid(_("Enter a valid domain name, like support.example.com."))
    if is_platform_host(name) or labels[-1] == "localhost":
        raise _invalid(_("This domain belongs to the platform."))
    return name


def txt_record_for(domain: Domain) -> dict:
    """The record the company must publish, as shown in the console and the API."""
    return {"type": "TXT", "name": domain.challenge_name, "value": domain.verification_token}


def domain_get(*, company: Company, domain_id: int) -> Domain:
    """One domain of `company`; NotFound for another company's (never tells them apart)."""
    domain = Domain.objects.select_related("tenant", "tenant__plan").filter(
        pk=domain_id, tenant_id=company.pk,
    ).first()
    if domain is None:
        raise NotFound()
    return domain


def domain_list(*, company: Company) -> list[Domain]:
    """The company's own subdomain first, then its custom domains, oldest first."""
    return list(Domain.objects.filter(tenant_id=company.pk).order_by("-kind", "created_at", "pk"))


def _audit(action: str, domain: Domain, actor, meta: RequestMeta | None) -> None:
    platform_audit_record(action=action, actor=actor, meta=meta, company_id=domain.tenant_id,
                          details={"domain": domain.domain})


def domain_add(
    *, company: Company, domain: str, actor=None, meta: RequestMeta | None = None,
) -> Domain:
    """Add an unverified custom domain with a fresh token. 403 without `white_label`, 409 when
    any company already has it. Audited as `domain.added`."""
    ensure_feature(company, "white_label")
    name = normalise_hostname(domain)
    try:
        with transaction.atomic():
            # One at a time per company, so that the count below holds.
            Company.objects.select_for_update().filter(pk=company.pk).first()
            if Domain.objects.filter(tenant_id=company.pk, kind=Domain.Kind.CUSTOM).count() \
                    >= MAX_CUSTOM_DOMAINS:
                raise Conflict(
                    _("A company can have at most %(count)s custom domains.")
                    % {"count": MAX_CUSTOM_DOMAINS},
                    details=[{"field": "domain", "message": str(_("Too many custom domains."))}],
                )
            if Domain.objects.filter(domain=name).exists():
                raise _taken()
            row = Domain(
                domain=name, tenant=company, is_primary=False, kind=Domain.Kind.CUSTOM,
                verification_token=f"conversa-verify-{secrets.token_urlsafe(24)}",
            )
            row.save()
            _audit("domain.added", row, actor, meta)
            custom_hosts_changed()
    except IntegrityError:  # added by another request at the same moment
        raise _taken() from None
    return row


def _taken() -> Conflict:
    return Conflict(
        _("This domain is already in use."),
        details=[{"field": "domain", "message": str(_("Already in use."))}],
    )


def domain_verify(*, domain: Domain, actor=None, meta: RequestMeta | None = None) -> Domain:
    """Look the TXT record up and mark the domain verified when it holds the token.

    Idempotent: a verified domain stays verified without a lookup (and without a second audit
    entry). The lookup runs outside any transaction (it may take seconds); the row is locked only
    to write the result and its `domain.verified` entry.
    """
    company = Company.objects.select_related("plan").get(pk=domain.tenant_id)
    ensure_feature(company, "white_label")
    if domain.is_verified:
        return domain
    try:
        values = dns.txt_records(domain.challenge_name)
    except dns.DnsLookupFailed:
        raise DomainNotVerified(
            _("The DNS lookup failed. Try again in a few minutes."),
            details={"reason": "lookup_failed", "record": txt_record_for(domain)},
        ) from None
    if domain.verification_token not in {value.strip().strip('"') for value in values}:
        raise DomainNotVerified(details={"reason": "record_not_found", "record": txt_record_for(domain)})
    with transaction.atomic():
        domain = Domain.objects.select_for_update().get(pk=domain.pk)
        if domain.verified_at is None:
            domain.verified_at = timezone.now()
            domain.save(update_fields=["verified_at"])
            _audit("domain.verified", domain, actor, meta)
            custom_hosts_changed()
    return domain


def domain_make_primary(
    *, domain: Domain, actor=None, meta: RequestMeta | None = None,
) -> Domain:
    """Make a verified domain the company's primary one (used for the links it is given).

    Audited as `domain.made_primary`."""
    if not domain.is_verified:
        raise Conflict(_("Only a verified domain can be the primary one."))
    if domain.kind == Domain.Kind.CUSTOM:
        ensure_feature(Company.objects.select_related("plan").get(pk=domain.tenant_id), "white_label")
    with transaction.atomic():
        # Lock the company's domains: two concurrent calls must not leave two primaries.
        list(Domain.objects.select_for_update().filter(tenant_id=domain.tenant_id).order_by("pk"))
        if not Domain.objects.filter(pk=domain.pk).update(is_primary=True):
            raise NotFound()
        Domain.objects.filter(tenant_id=domain.tenant_id).exclude(pk=domain.pk).update(is_primary=False)
        _audit("domain.made_primary", domain, actor, meta)
    domain.is_primary = True
    return domain


def domain_remove(*, domain: Domain, actor=None, meta: RequestMeta | None = None) -> None:
    """Remove a custom domain: it is not served from the next request on, in every process.

    When it was the primary domain, the company's own subdomain becomes primary again. Audited as
    `domain.removed`.
    """
    if domain.kind == Domain.Kind.SUBDOMAIN:
        raise Conflict(_("The company's own address cannot be removed."))
    with transaction.atomic():
        rows = {row.pk: row for row in Domain.objects.select_for_update().filter(tenant_id=domain.tenant_id)}
        row = rows.get(domain.pk)
        if row is None:
            raise NotFound()
        row.delete()
        if row.is_primary:
            Domain.objects.filter(tenant_id=domain.tenant_id, kind=Domain.Kind.SUBDOMAIN).update(
                is_primary=True,
            )
        _audit("domain.removed", row, actor, meta)
        custom_hosts_changed()
