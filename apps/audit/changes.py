"""What an audited write changed, as `{field: [from, to]}`: one helper for every service.

A service snapshots the row it locked, makes its change, then asks `changes_between(before, after,
fields)`; only the fields that differ are kept. Values are stored as JSON (dates as ISO text,
decimals as text). Secret fields (credentials, tokens) are named in `masked`: the entry records
that they changed, never what they hold.
"""

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

MASK = "••••••"


def plain(value: Any) -> Any:
    """`value` as JSON can hold it (a model as its primary key)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, models.TextChoices | models.IntegerChoices):
        return value.value
    return value


def _read(source: Any, field: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(field)
    return getattr(source, field, None)


def snapshot(source: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The fields' current values (a row about to change), as plain JSON values."""
    return {field: plain(_read(source, field)) for field in fields}


def changes_between(
    before: Any, after: Any, fields: Iterable[str], *, masked: Iterable[str] = ()
) -> dict[str, list]:
    """`{field: [from, to]}` for each of `fields` whose value differs between `before` and `after`
    (rows, snapshots or dicts; None stands for "did not exist": a creation or a deletion)."""
    masked = set(masked)
    changes = {}
    for field in fields:
        old, new = plain(_read(before, field)), plain(_read(after, field))
        if old == new:
            continue
        if field in masked:
            old, new = (MASK if old not in (None, "", {}) else None), MASK
        changes[field] = [old, new]
    return changes


def created(after: Any, fields: Iterable[str], *, masked: Iterable[str] = ()) -> dict[str, list]:
    """The set fields of a new row, each as `[None, value]` (empty values left out)."""
    return {
        field: pair for field, pair in changes_between(None, after, fields, masked=masked).items()
        if pair[1] not in ("", [], {})
    }

