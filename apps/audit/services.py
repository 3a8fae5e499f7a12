"""Writing audit entries; every security-relevant action calls `audit_record`."""

from apps.audit.models import AuditLog
from conversa.request_meta import client_ip


def audit_record(
    *,
    action: str,
    entity_type: str = "",
    entity_id="",
    actor=None,
    api_key=None,
    changes: dict | None = None,
    request=None,
    success: bool = True,
) -> AuditLog:
    """Append one entry (inside the caller's transaction, so it exists only if the action does)."""
    ip, agent = None, ""
    if request is not None:
        ip = client_ip(request) or None
        agent = request.headers.get("User-Agent", "")[:300]
    return AuditLog.objects.create(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id or ""),
        actor=actor,
        api_key=api_key,
        changes=changes or {},
        ip=ip,
        user_agent=agent,
        success=success,
    )
