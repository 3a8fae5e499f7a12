"""The platform audit log: who among the super-admins did what to which company, and why.

The platform's services write these entries themselves, inside the action's transaction, so that
every door (console, platform API, commands) leaves exactly one entry per action.
"""

from django.db import transaction

from conversa.request_meta import RequestMeta
from tenants.models import Company, PlatformAuditEntry

SYSTEM = RequestMeta()


def platform_audit_record(
    *, action: str, actor=None, meta: RequestMeta | None = None, company: Company | None = None,
    company_id: int | None = None, details: dict | None = None, reason: str = "",
    actor_email: str = "",
) -> PlatformAuditEntry:
    """Append one entry; call it inside the action's transaction so both land or neither does.

    `actor` is the super-admin acting (None for commands and tasks), `meta` the door and client
    address of the request that asked.
    """
    meta = meta or SYSTEM
    with transaction.atomic():
        return PlatformAuditEntry.objects.create(
            actor_id=actor.pk if actor is not None else None,
            actor_email=actor.email if actor is not None else actor_email,
            action=action,
            company_id=company.pk if company is not None else company_id,
            details=details or {},
            reason=reason[:500],
            ip=meta.ip,
            source=meta.source,
        )
