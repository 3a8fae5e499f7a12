"""Checks of a team's settings before they are stored: business hours, SLA targets, capacity.

Each check returns the cleaned value or raises ValidationFailed with one detail per problem, named
by the field of the API body (`business_hours.days.mon`), so the UI can put it next to its control.
"""

import zoneinfo

from django.utils.translation import gettext as _

from apps.teams.hours import WEEKDAYS, validate_business_hours
from conversa.errors import ValidationFailed

MIN_CAPACITY, MAX_CAPACITY = 1, 100
# A month: a longer promise is no service-level target.
MAX_SLA_SECONDS = 31 * 24 * 3600


def _detail(field: str, message: str) -> dict:
    return {"field": field, "message": str(message)}


def valid_timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def clean_business_hours(value) -> dict:
    """`{timezone, days: {"mon": [["09:00", "18:00"]], …}, holidays: ["YYYY-MM-DD"]}` checked by
    `hours.validate_business_hours` (the rules the calculations rely on), then kept in one form:
    weekdays in order, each day's ranges sorted, holidays sorted once each. {} is always open."""
    if value in (None, {}):
        return {}
    details = validate_business_hours(value)
    if details:
        raise ValidationFailed(details=details)
    cleaned = {"timezone": value["timezone"], "holidays": sorted(set(value.get("holidays") or []))}
    if "days" in value:
        # Without `days` every day is open (but holidays): kept absent, not turned into "never".
        cleaned["days"] = {
            day: sorted([list(pair) for pair in value["days"][day]])
            for day in WEEKDAYS if value["days"].get(day)
        }
    return cleaned


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
