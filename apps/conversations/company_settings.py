"""The company's settings of how its conversations behave (stored on `tenants.Company`)."""

from django.db import connection, transaction

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.changes import changes_between
from apps.audit.services import audit_record
from tenants.models import Company


def company_set_reply_assigns(*, actor: Actor, enabled: bool, request=None) -> Company:
    """Whether an agent's reply to an unassigned conversation assigns it to them (admins only, 403
    otherwise); audited as `company.settings_changed` when it changes."""
    permissions.check(actor, "company.manage")
    with transaction.atomic():
        company = Company.objects.select_for_update().get(schema_name=connection.schema_name)
        if company.reply_assigns != enabled:
            changes = changes_between(company, {"reply_assigns": enabled}, ["reply_assigns"])
            company.reply_assigns = enabled
            company.save(update_fields=["reply_assigns", "updated_at"])
            audit_record(
                action="company.settings_changed", entity_type="company", entity_id=company.pk,
                actor=actor, changes=changes, request=request,
            )
    return company
