"""Reads of the audit log: for whoever may read it (apps.accounts.permissions), with the filters the
API, the audit page and the CSV export share (one parser, one 422 naming the bad filter)."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.audit.models import AuditLog
from conversa.errors import ValidationFailed

FILTER_NAMES = ("user", "api_key", "action", "entity_type", "entity_id", "from", "to", "success")
MAX_ID = 2**62


def audit_logs_visible_to(actor: permissions.Actor) -> QuerySet[AuditLog]:
    permissions.check(actor, "audit.read")
    return AuditLog.objects.all()


@dataclass(frozen=True)
class AuditFilters:
    """Which entries to show: by who acted (a user or an API key), what, on what, when, outcome."""

    user: int | None = None
    api_key: int | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    success: bool | None = None

    def apply(self, logs: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        conditions = {
            "actor_id": self.user, "api_key_id": self.api_key, "action": self.action,
            "entity_type": self.entity_type, "entity_id": self.entity_id, "created_at__gte": self.since,
            "created_at__lt": self.until, "success": self.success,
        }
        return logs.filter(**{name: value for name, value in conditions.items() if value is not None})


def _invalid(prefix: str, name: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": f"{prefix}{name}", "message": str(message)}])


def _text(raw: Mapping, name: str, max_length: int, prefix: str) -> str | None:
    value = raw.get(name)
    if value is None or str(value).strip() == "":
        return None
    value = str(value).strip()
    if len(value) > max_length or "\x00" in value:
        raise _invalid(prefix, name, _("Must be text of at most %(max)d characters.") % {"max": max_length})
    return value


def _id(raw: Mapping, name: str, prefix: str) -> int | None:
    value = _text(raw, name, 20, prefix)
    if value is None:
        return None
    if not value.isdigit() or int(value) > MAX_ID:
        raise _invalid(prefix, name, _("Must be an id."))
    return int(value)


def _moment(raw: Mapping, name: str, prefix: str, *, end: bool) -> dt.datetime | None:
    """An ISO date (the whole day: `to` runs to its end) or date-time; naive ones are UTC."""
    text = _text(raw, name, 40, prefix)
    if text is None:
        return None
    try:
        # A bare date first: Python reads "2025-01-31" as a date-time too (its midnight).
        day = parse_date(text) if len(text) == 10 else None
        moment = None if day else parse_datetime(text)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), tzinfo=dt.UTC)
    if moment is None:
        raise _invalid(prefix, name, _("Use a date (YYYY-MM-DD) or an ISO 8601 date and time."))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _flag(raw: Mapping, name: str, prefix: str) -> bool | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise _invalid(prefix, name, _("Use true or false."))


def audit_filters_parse(raw: Mapping[str, Any], *, prefix: str = "") -> AuditFilters:
    """The filters in `raw` (query parameters, a form, an export's stored filters), or 422 naming
    the bad one (`{prefix}{name}`). Unknown names are the caller's business."""
    filters = AuditFilters(
        user=_id(raw, "user", prefix),
        api_key=_id(raw, "api_key", prefix),
        action=_text(raw, "action", 100, prefix),
        entity_type=_text(raw, "entity_type", 50, prefix),
        entity_id=_text(raw, "entity_id", 64, prefix),
        since=_moment(raw, "from", prefix, end=False),
        until=_moment(raw, "to", prefix, end=True),
        success=_flag(raw, "success", prefix),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise _invalid(prefix, "to", _("Must be after `from`."))
    return filters


def audit_log_list(actor: permissions.Actor, filters: AuditFilters | None = None) -> QuerySet[AuditLog]:
    """The entries `actor` may read (admins; 403 otherwise) that match `filters`, with who acted."""
    logs = audit_logs_visible_to(actor).select_related("actor", "api_key")
    return (filters or AuditFilters()).apply(logs)


def audit_actions() -> list[str]:
    """The actions the log holds, for the audit page's filter."""
    return sorted(AuditLog.objects.order_by().values_list("action", flat=True).distinct())
