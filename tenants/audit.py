"""The platform audit log: who among the super-admins did what to which company, and why."""

from django.db import transaction

from tenants.models import Company, PlatformAuditEntry


def _client_ip(request) -> str | None:
    if request is None:
        return None
    from apps.accounts.throttling import client_ip

    return client_ip(request) or None


def platform_audit_record(
    *, action: str, actor=None, request=None, company: Company | None = None,
    details: dict | None = None, reason: str = "", source: str = "console",
    actor_email: str = "",
) -> PlatformAuditEntry:
    """Append one entry; call it inside the action's transaction so both land or neither does."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    with transaction.atomic():
        return PlatformAuditEntry.objects.create(
            actor_id=actor.pk if actor is not None else None,
            actor_email=actor.email if actor is not None else actor_email,
            action=action,
            company=company,
            details=details or {},
            reason=reason[:500],
            ip=_client_ip(request),
            source=source,
        )
