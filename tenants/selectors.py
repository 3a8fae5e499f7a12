"""Reads about companies that several callers need."""

from django_tenants.utils import schema_context

from tenants.models import Company
from tenants.usage import usage_for_month


def company_usage(company: Company) -> dict:
    from apps.accounts.models import User

    with schema_context(company.schema_name):
        agents = User.objects.filter(is_active=True).count()
    month = usage_for_month(company_id=company.pk)
    return {
        "agents": agents,
        "outbound_messages_this_month": month["outbound_messages"],
        "storage_bytes_this_month": month["storage_bytes"],
    }
