"""Tenant resolution from the Host: BASE_DOMAIN is the platform (public schema), others a company."""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseNotFound
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from conversa.prepared import PreparedRead


def platform_tenant():
    """A stand-in tenant for BASE_DOMAIN; the public schema has no company row of its own."""
    from tenants.models import Company

    return Company(schema_name=get_public_schema_name(), name="Conversa", slug="platform")


# Provider webhooks keep reaching a custom domain after the plan loses `white_label`: the URLs
# providers were given may name it, and customers' messages are never dropped.
OPEN_WITHOUT_WHITE_LABEL = ("/hooks/",)


def _verified_domain(hostname: str):
    from tenants.models import Domain

    # Domain names are unique: no order needed.
    return Domain.objects.select_related("tenant", "tenant__plan").filter(
        domain=hostname, verified_at__isnull=False
    ).order_by()[:1]


# Every request asks it: compiled once (`conversa.prepared`), read from the database each time.
_verified_domain_read = PreparedRead(_verified_domain, hostname="")


def served_domain(hostname: str, *, path: str = ""):
    """The Domain row serving `hostname` (with its company and plan), or None.

    Read from the database on every call: an unverified domain, one removed a moment ago, or a
    custom domain of a company whose plan lost `white_label` (except for its webhooks) is not served.
    """
    from tenants.models import Domain

    hostname = hostname.lower().rstrip(".")
    domain = _verified_domain_read.first(hostname=hostname)
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    if domain.kind == Domain.Kind.CUSTOM and not domain.tenant.plan.white_label \
            and not path.startswith(OPEN_WITHOUT_WHITE_LABEL):
        return None
    return domain


class TenantFromHostMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        # django-tenants' own, with the path passed on (the instance is shared between requests).
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        tenant = self.tenant_for(hostname, path=request.path_info)
        if tenant is None:
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(request.tenant)
        self.setup_url_routing(request)

    def get_tenant(self, domain_model, hostname):
        tenant = self.tenant_for(hostname)
        if tenant is None:
            raise domain_model.DoesNotExist(hostname)
        return tenant

    @staticmethod
    def tenant_for(hostname: str, *, path: str = ""):
        hostname = hostname.lower().rstrip(".")
        if hostname == settings.BASE_DOMAIN:
            return platform_tenant()
        domain = served_domain(hostname, path=path)
        return domain.tenant if domain else None
