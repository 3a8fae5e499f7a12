"""Cursor (keyset) pagination: `?cursor=…&limit=…` → `{"items": [...], "next_cursor": …}`.

Keyset rather than offset: pages stay stable while new rows arrive and cost the same at any depth.
"""

import base64
import json

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from ninja import Schema

from conversa.errors import ValidationFailed

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


class PageParams(Schema):
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(details=[{"field": "cursor", "message": _("Invalid cursor.")}]) from exc
    if not isinstance(values, list):
        raise ValidationFailed(details=[{"field": "cursor", "message": _("Invalid cursor.")}])
    return values


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int,
             ordering: tuple[str, ...] = ("-id",)) -> tuple[list, str | None]:
    """One page of `queryset` ordered by `ordering` (whose last field must be unique)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(details=[{
            "field": "limit", "message": _("Must be between 1 and %(max)d.") % {"max": MAX_LIMIT},
        }])
    fields = [name.lstrip("-") for name in ordering]
    queryset = queryset.order_by(*ordering)
    if cursor:
        values = _decode(cursor)
        if len(values) != len(fields):
            raise ValidationFailed(details=[{"field": "cursor", "message": _("Invalid cursor.")}])
        queryset = queryset.filter(_after(ordering, values))
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        next_cursor = _encode([_value(rows[-1], field) for field in fields])
    return rows, next_cursor


def _value(row, field: str):
    value = getattr(row, field)
    return value.isoformat() if hasattr(value, "isoformat") else value


def _after(ordering: tuple[str, ...], values: list) -> Q:
    """Rows strictly after `values` in `ordering`: (a > x) or (a = x and b > y) …

    NULLs sort as PostgreSQL sorts them by default: last ascending, first descending; so after a NULL
    in a descending field come all the values, and after a value in an ascending field the NULLs.
    """
    condition = Q()
    equal_so_far = Q()
    for name, value in zip(ordering, values, strict=True):
        field = name.lstrip("-")
        descending = name.startswith("-")
        if value is None:
            beyond = Q(**{f"{field}__isnull": False}) if descending else Q(pk__in=[])
            equal = Q(**{f"{field}__isnull": True})
        else:
            beyond = Q(**{f"{field}__{'lt' if descending else 'gt'}": value})
            if not descending:
                beyond |= Q(**{f"{field}__isnull": True})
            equal = Q(**{field: value})
        condition |= equal_so_far & beyond
        equal_so_far &= equal
    return condition


def page_of(queryset: QuerySet, params: PageParams, *, ordering: tuple[str, ...] = ("-id",)) -> dict:
    """A list route's answer: one page of `queryset` as `{"items": [...], "next_cursor": …}`."""
    items, next_cursor = paginate(queryset, cursor=params.cursor, limit=params.limit, ordering=ordering)
    return {"items": items, "next_cursor": next_cursor}
