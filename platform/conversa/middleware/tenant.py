"""Tenant resolution from the Host: BASE_DOMAIN is the platform (public schema), others a company."""

from django.conf import settings
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name


def platform_tenant():
    """A stand-in tenant for BASE_DOMAIN; the public schema has no company row of its own."""
    from tenants.models import Company

    return Company(schema_name=get_public_schema_name(), name="Conversa", slug="platform")


def served_domain(hostname: str):
    """The Domain row serving `hostname` (with its company and plan), or None.

    Read from the database on every call: an unverified domain, one removed a moment ago, or a
    custom domain of a company whose plan lost `white_label` is not served.
    """
    from tenants.models import Domain

    hostname = hostname.lower().rstrip(".")
    domain = (
        Domain.objects.select_related("tenant", "tenant__plan")
        .filter(domain=hostname, verified_at__isnull=False).first()
    )
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    if domain.kind == Domain.Kind.CUSTOM and not domain.tenant.plan.white_label:
        return None
    return domain


class TenantFromHostMiddleware(TenantMainMiddleware):
    def get_tenant(self, domain_model, hostname):
        hostname = hostname.lower().rstrip(".")
        if hostname == settings.BASE_DOMAIN:
            return platform_tenant()
        domain = served_domain(hostname)
        if domain is None:
            raise domain_model.DoesNotExist(hostname)
        return domain.tenant
