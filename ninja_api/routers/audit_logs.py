"""`/api/v1/audit-logs`: the company's audit trail, for admins."""

import datetime as dt

from ninja import Field, Query, Router, Schema

from apps.audit.selectors import audit_filters_parse, audit_log_list
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["audit"])


class AuditLogOut(Schema):
    id: int
    actor_id: int | None
    actor_email: str | None = None
    api_key_id: int | None
    api_key_name: str | None = None
    action: str
    entity_type: str
    entity_id: str
    changes: dict
    ip: str | None
    user_agent: str
    success: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_actor_email(log) -> str | None:
        return log.actor.email if log.actor_id else None

    @staticmethod
    def resolve_api_key_name(log) -> str | None:
        return log.api_key.name if log.api_key_id else None


class AuditLogPage(Schema):
    items: list[AuditLogOut]
    next_cursor: str | None


class AuditLogFilters(Schema):
    user: str | None = Field(None, description="The acting user's id.")
    api_key: str | None = Field(None, description="The acting API key's id.")
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    from_: str | None = Field(None, alias="from", description="A date (YYYY-MM-DD) or ISO date-time.")
    to: str | None = Field(None, description="A date (inclusive) or ISO date-time (exclusive).")
    success: str | None = Field(None, description="true or false.")


@router.get("", response=AuditLogPage)
def list_audit_logs(request, page: Query[PageParams], filters: Query[AuditLogFilters]):
    parsed = audit_filters_parse(filters.dict(by_alias=True))
    return page_of(audit_log_list(request.auth, parsed), page, ordering=("-id",))
