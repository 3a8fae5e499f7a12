"""Cursor (keyset) pagination: `?cursor=…&limit=…` → `{"items": [...], "next_cursor": …}`.

Keyset rather than offset: pages stay stable while new rows arrive and cost the same at any depth.
"""

import base64
import json
import logging
import threading
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from ninja import Schema

from conversa.errors import ValidationFailed
from conversa.prepared import PreparedRead, filter_key, preparable

logger = logging.getLogger("conversa.api")

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


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(details=[{
            "field": "limit", "message": _("Must be between 1 and %(max)d.") % {"max": MAX_LIMIT},
        }])


def _cursor_values(queryset: QuerySet, cursor: str | None, fields: Sequence[str]) -> list | None:
    """The cursor's values as their fields' Python values (None for the first page)."""
    if not cursor:
        return None
    values = _decode(cursor)
    if len(values) != len(fields):
        raise ValidationFailed(details=[{"field": "cursor", "message": _("Invalid cursor.")}])
    annotations = queryset.query.annotations
    try:
        return [
            None if value is None else (
                annotations[field].output_field if field in annotations
                else queryset.model._meta.get_field(field)
            ).to_python(value)
            for field, value in zip(fields, values, strict=True)
        ]
    except (ValidationError, TypeError, ValueError) as exc:
        raise ValidationFailed(details=[{"field": "cursor", "message": _("Invalid cursor.")}]) from exc


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int,
             ordering: tuple[str, ...] = ("-id",)) -> tuple[list, str | None]:
    """One page of `queryset` ordered by `ordering` (whose last field must be unique)."""
    _check_limit(limit)
    fields = [name.lstrip("-") for name in ordering]
    queryset = queryset.order_by(*ordering)
    values = _cursor_values(queryset, cursor, fields)
    if values is not None:
        queryset = queryset.filter(_after(ordering, values))
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        next_cursor = _encode([_value(rows[-1], field) for field in fields])
    return rows, next_cursor


def _value(row, field: str):
    return _json_value(getattr(row, field))


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


class PreparedPages:
    """Cursor pages of a list route read as rows of `columns`, with the statement of each shape of
    filters compiled once per process (`conversa.prepared`).

    The route still builds its queryset through its selector on every request (visibility,
    permissions, filters); `filter_key` names that queryset's filters exactly, and the statement
    compiled for the first queryset of a key serves every later one, with the cursor's values put
    in its place. Filters a key cannot name (a search's subqueries) are read through the ORM.
    """

    def __init__(self, *, columns: Sequence, ordering: tuple[str, ...], shapes: int = 1024):
        """`columns`: field names or expressions; the ordering's fields must be among the names."""
        self.columns, self.ordering = tuple(columns), ordering
        self._fields = [name.lstrip("-") for name in ordering]
        # The cursor is made of the last row's ordering fields.
        names = [column if isinstance(column, str) else None for column in self.columns]
        self._cursor_columns = [names.index(field) for field in self._fields]
        self._shapes = shapes
        self._reads: dict[tuple, PreparedRead] = {}
        self._lock = threading.Lock()

    def page(self, queryset: QuerySet, params: PageParams) -> tuple[list[tuple], str | None]:
        """(rows as tuples of `columns`, the next page's cursor or None)."""
        _check_limit(params.limit)
        after = _cursor_values(queryset, params.cursor, self._fields)
        read, values = self._prepared(queryset, after, params.limit)
        if read is None:
            rows = list(self._rows(queryset, after, params.limit))
        else:
            rows = read.all(**values)
        next_cursor = None
        if len(rows) > params.limit:
            rows = rows[:params.limit]
            last = rows[-1]
            next_cursor = _encode([_json_value(last[column]) for column in self._cursor_columns])
        return rows, next_cursor

    def _rows(self, queryset: QuerySet, after: list | None, limit: int) -> QuerySet:
        rows = queryset.select_related(None).order_by(*self.ordering)
        if after is not None:
            rows = rows.filter(_after(self.ordering, after))
        return rows.values_list(*self.columns)[: limit + 1]

    def _prepared(self, queryset: QuerySet, after: list | None, limit: int):
        """The prepared read of this queryset's shape (None: through the ORM) and its values."""
        key = filter_key(queryset)
        if key is None or not all(value is None or preparable(value) for value in after or ()):
            return None, None
        # A NULL in the cursor changes the statement (`IS NULL`); its other values are parameters.
        nulls = None if after is None else tuple(value is None for value in after)
        values = {f"after_{n}": value for n, value in enumerate(after or ()) if value is not None}
        shape = (key, limit, nulls)
        if shape not in self._reads:
            def build(**named):
                cursor = None if after is None else [named.get(f"after_{n}") for n in range(len(after))]
                return self._rows(queryset, cursor, limit)

            read = PreparedRead(build, **values)
            try:
                read.compile()
            except ValueError:  # a shape it cannot serve: this shape goes through the ORM
                logger.warning("a page shape of %s is read through the ORM", queryset.model.__name__,
                               exc_info=True)
                read = None
            with self._lock:
                if len(self._reads) >= self._shapes:  # the oldest shape goes first
                    self._reads.pop(next(iter(self._reads)))
                self._reads.setdefault(shape, read)
        return self._reads.get(shape), values


def _json_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
