"""Reads about companies that several callers need."""

from tenants.counts import count_in_schema
from tenants.models import Company
from tenants.usage import usage_for_month


def company_usage(company: Company) -> dict:
    # Counted by SQL in the company's schema, as the console's counts are: tenants sits below
    # accounts and does not import its models.
    agents = count_in_schema(company.schema_name)["agents"]
    month = usage_for_month(company_id=company.pk)
    return {
        "agents": agents,
        "outbound_messages_this_month": month["outbound_messages"],
        "storage_bytes_this_month": month["storage_bytes"],
    }
