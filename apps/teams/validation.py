"""Checks of a team's settings before they are stored: business hours, SLA targets, capacity.

Each check returns the cleaned value or raises ValidationFailed with one detail per problem, named
by the field of the API body (`business_hours.days.mon`), so the UI can put it next to its control.
"""

import datetime as dt
import re
import zoneinfo

from django.utils.translation import gettext as _

from conversa.errors import ValidationFailed

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_CAPACITY, MAX_CAPACITY = 1, 100
# A month: a longer promise is no service-level target.
MAX_SLA_SECONDS = 31 * 24 * 3600
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _detail(field: str, message: str) -> dict:
    return {"field": field, "message": str(message)}


def valid_timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _ranges(field: str, ranges, details: list) -> list[list[str]]:
    if not isinstance(ranges, list):
        details.append(_detail(field, _("A list of [start, end] times.")))
        return []
    cleaned = []
    for pair in ranges:
        if (not isinstance(pair, list | tuple) or len(pair) != 2
                or not all(isinstance(t, str) and _TIME.match(t) for t in pair)):
            details.append(_detail(field, _("Times are written HH:MM, e.g. [\"09:00\", \"18:00\"].")))
            return []
        start, end = pair
        if start >= end:
            details.append(_detail(field, _("Each range must end after it starts.")))
            return []
        cleaned.append([start, end])
    cleaned.sort()
    for (_start, end), (next_start, _next_end) in zip(cleaned, cleaned[1:], strict=False):
        if next_start < end:
            details.append(_detail(field, _("Ranges of one day must not overlap.")))
            return []
    return cleaned


def clean_business_hours(value) -> dict:
    """`{timezone, days: {"mon": [["09:00", "18:00"]], …}, holidays: ["YYYY-MM-DD"]}`, or {} for
    always open. A weekday left out (or with no ranges) is closed all day.

    Stands in for `apps.teams.hours.validate_business_hours` (written on another branch, it returns
    the details): once both are on one branch this raises its details and keeps the normalising."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(details=[_detail("business_hours", _("An object or null."))])
    details: list[dict] = []
    unknown = sorted(set(value) - {"timezone", "days", "holidays"})
    for key in unknown:
        details.append(_detail(f"business_hours.{key}", _("Unknown field.")))
    timezone = value.get("timezone")
    if not isinstance(timezone, str) or timezone not in zoneinfo.available_timezones():
        details.append(_detail("business_hours.timezone", _("Choose a time zone such as America/Sao_Paulo.")))
    days = value.get("days") or {}
    cleaned_days = {}
    if not isinstance(days, dict):
        details.append(_detail("business_hours.days", _("An object of weekdays (mon … sun).")))
        days = {}
    for day, ranges in days.items():
        if day not in WEEKDAYS:
            details.append(_detail(
                f"business_hours.days.{day}", _("Weekdays are mon, tue, wed, thu, fri, sat, sun."),
            ))
            continue
        cleaned = _ranges(f"business_hours.days.{day}", ranges, details)
        if cleaned:
            cleaned_days[day] = cleaned
    holidays = value.get("holidays") or []
    cleaned_holidays = []
    if not isinstance(holidays, list):
        details.append(_detail("business_hours.holidays", _("A list of dates (YYYY-MM-DD).")))
        holidays = []
    for holiday in holidays:
        try:
            cleaned_holidays.append(dt.date.fromisoformat(holiday).isoformat())
        except (TypeError, ValueError):
            details.append(_detail("business_hours.holidays", _("Dates are written YYYY-MM-DD.")))
            break
    if details:
        raise ValidationFailed(details=details)
    return {
        "timezone": timezone,
        "days": {day: cleaned_days[day] for day in WEEKDAYS if day in cleaned_days},
        "holidays": sorted(set(cleaned_holidays)),
    }


def validate_sla_seconds(field: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SLA_SECONDS:
        raise ValidationFailed(details=[_detail(
            field, _("Between 1 and %(max)d seconds, or empty for none.") % {"max": MAX_SLA_SECONDS},
        )])
    return value


def validate_capacity(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_CAPACITY <= value <= MAX_CAPACITY:
        raise ValidationFailed(details=[_detail(
            "capacity", _("Between %(min)d and %(max)d.") % {"min": MIN_CAPACITY, "max": MAX_CAPACITY},
        )])
    return value
