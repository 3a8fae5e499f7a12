"""Tenant resolution from the Host: BASE_DOMAIN is the platform (public schema), others a company."""

from django.conf import settings
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name


def platform_tenant():
    """A stand-in tenant for BASE_DOMAIN; the public schema has no company row of its own."""
    from tenants.models import Company

    return Company(schema_name=get_public_schema_name(), name="Conversa", slug="platform")


class TenantFromHostMiddleware(TenantMainMiddleware):
    def get_tenant(self, domain_model, hostname):
        if hostname == settings.BASE_DOMAIN:
            return platform_tenant()
        domain = domain_model.objects.select_related("tenant", "tenant__plan").get(domain=hostname)
        return domain.tenant
