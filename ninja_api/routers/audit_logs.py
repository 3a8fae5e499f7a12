"""`/api/v1/audit-logs`: the company's audit trail, for admins."""

import datetime as dt

from ninja import Query, Router, Schema

from apps.audit.selectors import audit_logs_visible_to
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["audit"])


class AuditLogOut(Schema):
    id: int
    actor_id: int | None
    api_key_id: int | None
    action: str
    entity_type: str
    entity_id: str
    changes: dict
    ip: str | None
    user_agent: str
    success: bool
    created_at: dt.datetime


class AuditLogPage(Schema):
    items: list[AuditLogOut]
    next_cursor: str | None


@router.get("", response=AuditLogPage)
def list_audit_logs(request, page: Query[PageParams], action: str | None = None,
                    entity_type: str | None = None, entity_id: str | None = None):
    logs = audit_logs_visible_to(request.auth)
    if action:
        logs = logs.filter(action=action)
    if entity_type:
        logs = logs.filter(entity_type=entity_type)
    if entity_id:
        logs = logs.filter(entity_id=entity_id)
    return page_of(logs, page, ordering=("-id",))
