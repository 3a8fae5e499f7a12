"""What each kind of export holds: its filters (checked when the export is asked for), its columns
and its rows, read through the same selectors as the API, so an export shows exactly what its
author may see (conversations through `conversations_visible_to`, the audit log for admins only)."""

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.audit.selectors import FILTER_NAMES as AUDIT_FILTERS
from apps.audit.selectors import audit_filters_parse, audit_log_list
from apps.contacts.audiences import in_lists_condition, segment_condition
from apps.contacts.custom_fields import parse_filter
from apps.contacts.models import Contact, ContactList, CustomFieldDefinition, Segment
from apps.contacts.selectors import contact_list_for
from apps.conversations.models import Conversation
from apps.conversations.selectors import conversation_list
from apps.exports.models import Export
from conversa.errors import ValidationFailed

CHUNK = 2000
FILTER_KEYS = {
    Export.Entity.CONTACTS: {"q", "tag", "lead_status", "custom_field", "list", "segment"},
    Export.Entity.CONVERSATIONS: {"status", "team", "inbox", "from", "to"},
    Export.Entity.AUDIT_LOGS: set(AUDIT_FILTERS),
    Export.Entity.COMPANY: set(),
}
# The formats each entity is written in (the first: when none is asked for).
FORMATS = {
    Export.Entity.CONTACTS: ("csv", "xlsx"),
    Export.Entity.CONVERSATIONS: ("csv", "xlsx"),
    Export.Entity.AUDIT_LOGS: ("csv", "xlsx"),
    Export.Entity.COMPANY: ("zip",),
}


@dataclass
class Table:
    header: list[str]
    rows: Iterator[list[Any]]


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": f"filters.{name}", "message": str(message)}])


def _text(filters: dict, name: str, max_length: int = 200) -> str | None:
    value = filters.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or len(str(value)) > max_length or "\x00" in str(value):
        raise _invalid(name, _("Must be text of at most %(max)d characters.") % {"max": max_length})
    return str(value).strip()


def _id(filters: dict, name: str) -> int | None:
    value = filters.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit() or int(value) > 2**62:
        raise _invalid(name, _("Must be an id."))
    return int(value)


def _moment(filters: dict, name: str, *, end: bool) -> dt.datetime | None:
    """An ISO date ("2025-01-31": the whole day, up to its end for `to`) or date-time, as UTC."""
    text = _text(filters, name, 40)
    if text is None:
        return None
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), tzinfo=dt.UTC)
    if moment is None:
        raise _invalid(name, _("Use a date (YYYY-MM-DD) or an ISO 8601 date and time."))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def clean_filters(entity: str, filters: Any) -> dict:
    """The filters as stored, or 422 naming the bad one (`filters.<name>`)."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise ValidationFailed(details=[{"field": "filters", "message": _("Must be an object.")}])
    unknown = sorted(set(filters) - FILTER_KEYS[entity])
    if unknown:
        raise _invalid(unknown[0], _("Unknown filter."))
    cleaned = {key: value for key, value in filters.items() if value not in (None, "")}
    if entity == Export.Entity.CONTACTS:
        for name in ("q", "tag", "custom_field"):
            _text(cleaned, name, 1100)
        status = cleaned.get("lead_status")
        if status is not None and status not in Contact.LeadStatus.values:
            raise _invalid("lead_status", _("Unknown lead status."))
        if cleaned.get("custom_field"):
            try:
                parse_filter(cleaned["custom_field"])
            except ValidationFailed as exc:
                raise _invalid("custom_field", exc.details[0]["message"]) from exc
        list_id, segment_id = _id(cleaned, "list"), _id(cleaned, "segment")
        if list_id is not None and not ContactList.objects.filter(pk=list_id).exists():
            raise _invalid("list", _("No such contact list."))
        if segment_id is not None and not Segment.objects.filter(pk=segment_id).exists():
            raise _invalid("segment", _("No such segment."))
    elif entity == Export.Entity.COMPANY:
        pass  # no filters (unknown ones were refused above)
    elif entity == Export.Entity.CONVERSATIONS:
        statuses = str(cleaned.get("status", "")).split(",") if cleaned.get("status") else []
        if any(status not in Conversation.Status.values for status in statuses):
            raise _invalid("status", _("Unknown status."))
        team = cleaned.get("team")
        if team is not None and str(team) != "none":
            _id(cleaned, "team")
        _id(cleaned, "inbox")
    else:
        audit_filters_parse(cleaned, prefix="filters.")
        return cleaned
    if "from" in cleaned or "to" in cleaned:
        start, end = _moment(cleaned, "from", end=False), _moment(cleaned, "to", end=True)
        if start and end and start >= end:
            raise _invalid("to", _("Must be after `from`."))
    return cleaned


def check_entity(actor, entity: str) -> None:
    """Who may export what: managers (or keys with `contacts:read`) export at all; conversations
    also need `conversations.read`, the audit log `audit.read` (admins), the whole company
    `company.backup` (admins, never a key). 403 otherwise."""
    permissions.check(actor, "exports.create")
    permissions.check(actor, {
        Export.Entity.CONTACTS: "contacts.read",
        Export.Entity.CONVERSATIONS: "conversations.read",
        Export.Entity.AUDIT_LOGS: "audit.read",
        Export.Entity.COMPANY: "company.backup",
    }[entity])


def table_for(actor, export: Export) -> Table:
    """The export's columns and rows as its author may see them now (403 if they no longer may)."""
    check_entity(actor, export.entity)
    build = {
        Export.Entity.CONTACTS: _contacts,
        Export.Entity.CONVERSATIONS: _conversations,
        Export.Entity.AUDIT_LOGS: _audit_logs,
    }[export.entity]
    return build(actor, export.filters)


def _between(queryset: QuerySet, field: str, filters: dict) -> QuerySet:
    start, end = _moment(filters, "from", end=False), _moment(filters, "to", end=True)
    if start:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end:
        queryset = queryset.filter(**{f"{field}__lt": end})
    return queryset


CONTACT_COLUMNS = (
    "id", "name", "phone", "email", "lead_status", "lead_score", "tags", "language", "time_zone",
    "company_name", "city", "country", "notes", "opted_out", "blocked", "last_contact_at",
    "created_at", "updated_at",
)


def _contacts(actor, filters: dict) -> Table:
    contacts = contact_list_for(
        actor, q=filters.get("q"), tag=filters.get("tag"), lead_status=filters.get("lead_status"),
        custom_field=filters.get("custom_field"),
    )
    if (list_id := _id(filters, "list")) is not None:
        contacts = contacts.filter(in_lists_condition([list_id]))
    if (segment_id := _id(filters, "segment")) is not None:
        segment = Segment.objects.filter(pk=segment_id).first()
        contacts = contacts.filter(segment_condition(segment.filters)) if segment else contacts.none()
    keys = list(CustomFieldDefinition.objects.order_by("id").values_list("key", flat=True))

    def rows():
        for values in contacts.order_by("id").values_list(*CONTACT_COLUMNS, "custom_fields").iterator(CHUNK):
            custom = values[-1] or {}
            yield [*values[:-1], *(custom.get(key) for key in keys)]

    return Table(header=[*CONTACT_COLUMNS, *(f"custom.{key}" for key in keys)], rows=rows())


CONVERSATION_COLUMNS = (
    ("id", "id"), ("contact_id", "contact_id"), ("contact_name", "contact__name"),
    ("contact_phone", "contact__phone"), ("inbox", "inbox__name"), ("status", "status"),
    ("priority", "priority"), ("assignee", "assignee__email"), ("team", "team__name"),
    ("labels", "labels"), ("subject", "subject"), ("created_at", "created_at"),
    ("first_response_at", "first_response_at"), ("last_message_at", "last_message_at"),
    ("closed_at", "closed_at"), ("close_reason", "close_reason"), ("outcome", "outcome"),
    ("outcome_value", "outcome_value"), ("csat_rating", "csat_rating"), ("sla_breached", "sla_breached"),
)


def _conversations(actor, filters: dict) -> Table:
    team = filters.get("team")
    conversations = conversation_list(
        actor, status=filters.get("status") or None, inbox=_id(filters, "inbox"),
        team=str(team) if team not in (None, "") else None,
    )
    conversations = _between(conversations, "created_at", filters)
    fields = [source for _name, source in CONVERSATION_COLUMNS]

    def rows():
        for values in conversations.order_by("id").values_list(*fields).iterator(CHUNK):
            yield list(values)

    return Table(header=[name for name, _source in CONVERSATION_COLUMNS], rows=rows())


AUDIT_COLUMNS = (
    ("id", "id"), ("created_at", "created_at"), ("actor", "actor__email"), ("api_key", "api_key__name"),
    ("action", "action"), ("entity_type", "entity_type"), ("entity_id", "entity_id"),
    ("changes", "changes"), ("ip", "ip"), ("user_agent", "user_agent"), ("success", "success"),
)


def _audit_logs(actor, filters: dict) -> Table:
    logs = audit_log_list(actor, audit_filters_parse(filters, prefix="filters."))
    fields = [source for _name, source in AUDIT_COLUMNS]

    def rows():
        for values in logs.order_by("id").values_list(*fields).iterator(CHUNK):
            row = list(values)
            row[7] = json.dumps(row[7], ensure_ascii=False, sort_keys=True)
            yield row

    return Table(header=[name for name, _source in AUDIT_COLUMNS], rows=rows())
