"""Writing audit entries; every security-relevant action calls `audit_record`."""

from apps.accounts.models import ApiKey
from apps.audit.models import AuditLog
from conversa.request_meta import client_ip, current_request_meta


def audit_record(
    *,
    action: str,
    entity_type: str = "",
    entity_id="",
    actor=None,
    changes: dict | None = None,
    request=None,
    success: bool = True,
) -> AuditLog:
    """Append one entry (inside the caller's transaction, so it exists only if the action does).

    `actor` is the user or the API key who acted (None: the system or an anonymous attempt).
    `changes` is `{field: [from, to]}` (see apps.audit.changes) plus, for events that change no
    field (a login), the facts that describe them. The IP and user agent come from `request`, or
    else from the HTTP request being served (none for tasks and commands).
    """
    ip, agent = None, ""
    if request is not None:
        ip = client_ip(request) or None
        agent = request.headers.get("User-Agent", "")[:300]
    elif (meta := current_request_meta()) is not None:
        ip, agent = meta.ip, meta.user_agent
    return AuditLog.objects.create(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id or ""),
        actor=None if isinstance(actor, ApiKey) else actor,
        api_key=actor if isinstance(actor, ApiKey) else None,
        changes=changes or {},
        ip=ip,
        user_agent=agent,
        success=success,
    )


ERASED_VALUE = "(erased)"


def audit_forget_values(*, entity_type: str, entity_ids) -> int:
    """Blank the values recorded in the changes of these entities' entries (an erased contact's
    name, phone…), keeping which fields changed, when and by whom. Returns how many entries."""
    entries = AuditLog.objects.filter(entity_type=entity_type, entity_id__in=[str(i) for i in entity_ids])
    forgotten = []
    for entry in entries.exclude(changes={}).only("pk", "changes"):
        entry.changes = {field: [ERASED_VALUE, ERASED_VALUE] if isinstance(value, list) else ERASED_VALUE
                         for field, value in entry.changes.items()}
        forgotten.append(entry)
    AuditLog.objects.bulk_update(forgotten, ["changes"], batch_size=500)
    return len(forgotten)
