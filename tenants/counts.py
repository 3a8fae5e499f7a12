"""Agents, inboxes and contacts per company: counted in its schema, cached in `CompanyCounts`."""

import logging

from django.db import connection, connections, transaction
from django.utils import timezone

from tenants import databases
from tenants.models import Company, CompanyCounts

logger = logging.getLogger("conversa.console")


def count_in_schema(schema_name: str) -> dict:
    # One statement per company: what the plan limits count (active users and inboxes, contacts
    # that are not deleted). The schema name is validated at creation (SCHEMA_NAME_RE).
    quoted = connection.ops.quote_name(schema_name)
    # On the server that holds the schema (the console runs on the main one).
    with connections[databases.database_of_schema(schema_name)].cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {quoted}.accounts_user WHERE is_active),"
            f" (SELECT count(*) FROM {quoted}.inboxes_inbox WHERE is_active),"
            f" (SELECT count(*) FROM {quoted}.contacts_contact WHERE deleted_at IS NULL)"
        )
        agents, inboxes, contacts = cursor.fetchone()
    return {"agents": agents, "inboxes": inboxes, "contacts": contacts}


def company_counts_refresh(*, company: Company) -> CompanyCounts:
    """Count now and store; idempotent, last writer wins (every writer counted live)."""
    counts = count_in_schema(company.schema_name)
    row, _ = CompanyCounts.objects.update_or_create(
        company_id=company.pk, defaults={**counts, "counted_at": timezone.now()},
    )
    return row


def company_counts_refresh_all() -> int:
    refreshed = 0
    for company in Company.objects.exclude(schema_name="public").only("pk", "schema_name"):
        try:
            with transaction.atomic():  # a failed count must not abort the others' transaction
                company_counts_refresh(company=company)
            refreshed += 1
        except Exception:
            # A schema that is missing or mid-migration must not stop the other companies' counts.
            logger.exception("could not count %s", company.schema_name)
    return refreshed
