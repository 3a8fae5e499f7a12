"""The company's branding as an email shows it (SPEC §2: brand name, logo, colour, support email;
white label hides the product's name), with absolute URLs since an email has no host."""

from django.conf import settings
from django.db import connection

from tenants.branding import logo_path
from tenants.models import Company, Domain

PRODUCT_NAME = "Conversa"
DEFAULT_COLOR = "#2563eb"


def current_company() -> Company:
    return Company.objects.select_related("plan").get(schema_name=connection.schema_name)


def company_base_url(company: Company) -> str:
    """`scheme://host` of the company's primary domain, for links written without a request
    (periodic emails). Links written while serving a request use that request's own host."""
    domain = Domain.objects.filter(tenant=company, is_primary=True).first()
    host = domain.domain if domain else f"{company.slug}.{settings.BASE_DOMAIN}"
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{host}{port}"


def email_brand(company: Company, base_url: str) -> dict:
    logo = logo_path(company)
    return {
        "name": company.brand_name or company.name,
        "color": company.primary_color or DEFAULT_COLOR,
        "support_email": company.support_email,
        "logo_url": f"{base_url}{logo}" if logo else "",
        # Without the white-label feature the product's own name stays visible.
        "powered_by": not company.plan.white_label,
        "product": PRODUCT_NAME,
    }
