"""Checking contacts' custom field values against the company's field definitions."""

import datetime as dt
import math
import re
from typing import Any

from django.utils.translation import gettext as _

from apps.contacts.models import CustomFieldDefinition
from conversa.errors import ValidationFailed

Type = CustomFieldDefinition.Type
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
TEXT_MAX_LENGTH = 1000
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _detail(key: str, message: str) -> dict:
    return {"field": f"custom_fields.{key}", "message": message}


def clean_value(definition: CustomFieldDefinition, value: Any) -> Any:
    """The value as stored for `definition`, or ValueError with a message for the user."""
    kind = definition.type
    if kind == Type.TEXT:
        if not isinstance(value, str):
            raise ValueError(_("Must be text."))
        if len(value) > TEXT_MAX_LENGTH:
            raise ValueError(_("At most %(max)d characters.") % {"max": TEXT_MAX_LENGTH})
        return value
    if kind == Type.NUMBER:
        # bool is an int in Python, but `true` is not a number to the user who sent it.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(_("Must be a number."))
        return value
    if kind == Type.BOOL:
        if not isinstance(value, bool):
            raise ValueError(_("Must be true or false."))
        return value
    if kind == Type.DATE:
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise ValueError(_("Must be a date as YYYY-MM-DD."))
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(_("Must be a date as YYYY-MM-DD.")) from exc
        return value
    if kind == Type.CHOICE:
        if value not in definition.choices:
            raise ValueError(_("Must be one of: %(choices)s.") % {"choices": ", ".join(definition.choices)})
        return value
    raise ValueError(_("Unknown field type."))


def clean_custom_fields(values: dict[str, Any], *, allow_none: bool = False) -> dict[str, Any]:
    """Check every value against its definition and return the cleaned values.

    Unknown keys and wrongly typed values are all reported at once (422, one detail per key).
    With `allow_none`, a None value is kept: an update uses it to remove the key.
    """
    if not isinstance(values, dict):
        raise ValidationFailed(details=[{"field": "custom_fields", "message": _("Must be an object.")}])
    definitions = {d.key: d for d in CustomFieldDefinition.objects.filter(key__in=list(values))}
    cleaned, errors = {}, []
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append(_detail(key, _("Unknown custom field.")))
        elif value is None and allow_none:
            cleaned[key] = None
        else:
            try:
                cleaned[key] = clean_value(definition, value)
            except ValueError as exc:
                errors.append(_detail(key, str(exc)))
    if errors:
        raise ValidationFailed(details=errors)
    return cleaned


def parse_filter(raw: str) -> dict[str, Any]:
    """Turn a `key=value` filter into the JSON containment it stands for, typed by the definition."""
    key, sep, text = raw.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValidationFailed(details=[{"field": "custom_field", "message": _("Use key=value.")}])
    definition = CustomFieldDefinition.objects.filter(key=key).first()
    if definition is None:
        raise ValidationFailed(details=[{"field": "custom_field", "message": _("Unknown custom field.")}])
    value: Any = text
    if definition.type == Type.NUMBER:
        value = _number(text)
        if value is None:
            raise ValidationFailed(details=[{"field": "custom_field", "message": _("Must be a number.")}])
    elif definition.type == Type.BOOL:
        if text.lower() not in ("true", "false"):
            raise ValidationFailed(
                details=[{"field": "custom_field", "message": _("Must be true or false.")}],
            )
        value = text.lower() == "true"
    return {key: value}


def _number(text: str) -> int | float | None:
    # Integers stay integers: a float would lose precision on large values (ids, document numbers).
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
