"""The date range of a report: `from` and `to` (days, both included) in a time zone (the
company's unless `tz` says otherwise), as UTC instants; and the buckets of a trend."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.translation import gettext as _

from conversa.errors import ValidationFailed

DEFAULT_DAYS = 7
MAX_DAYS = 366
# Hourly trends cover at most this many days (744 points).
MAX_HOURLY_DAYS = 31
INTERVALS = ("hour", "day")


@dataclass(frozen=True)
class Period:
    first_day: dt.date
    last_day: dt.date
    zone: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), self.zone)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the range (midnight ending its last day)."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), self.zone)

    @property
    def tz(self) -> str:
        return self.zone.key

    def as_dict(self) -> dict:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(), "tz": self.tz}


def _zone(name: str | None, default: str, details: list) -> ZoneInfo:
    try:
        return ZoneInfo(name or default or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        details.append({"field": "tz", "message": _("A valid IANA time zone, e.g. America/Sao_Paulo.")})
        return ZoneInfo("UTC")


def _day(value: str | None, field: str, details: list) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad(field, details)
    except ValueError:
        return _bad(field, details)


def _bad(field: str, details: list) -> None:
    details.append({"field": field, "message": _("A date as YYYY-MM-DD.")})


def period_parse(*, first: str | None, last: str | None, tz: str | None, company_tz: str,
                 interval: str | None = None) -> Period:
    """The period asked for, or 422 naming the field: malformed dates or zone, `from` after `to`,
    more than a year, an hourly trend over more than a month. Missing ends: the last 7 days to today."""
    details: list[dict] = []
    zone = _zone(tz, company_tz, details)
    first_day, last_day = _day(first, "from", details), _day(last, "to", details)
    if details:
        raise ValidationFailed(details=details)
    today = timezone.now().astimezone(zone).date()
    last_day = last_day or max(today, first_day or today)
    first_day = first_day or last_day - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        details.append({"field": "from", "message": _("The start must not be after the end.")})
    elif (last_day - first_day).days + 1 > MAX_DAYS:
        details.append({"field": "to", "message": _("At most %(days)d days.") % {"days": MAX_DAYS}})
    elif interval == "hour" and (last_day - first_day).days + 1 > MAX_HOURLY_DAYS:
        message = _("Hourly trends cover at most %(days)d days.") % {"days": MAX_HOURLY_DAYS}
        details.append({"field": "interval", "message": message})
    if details:
        raise ValidationFailed(details=details)
    return Period(first_day=first_day, last_day=last_day, zone=zone)


def today_in(zone: ZoneInfo) -> Period:
    day = timezone.now().astimezone(zone).date()
    return Period(first_day=day, last_day=day, zone=zone)


def buckets(period: Period, interval: str) -> list[dt.datetime]:
    """The local starts of every hour or day of the period, in order (a DST day has 23 or 25 hours)."""
    if interval == "day":
        return [dt.datetime.combine(period.first_day + dt.timedelta(days=n), dt.time(), period.zone)
                for n in range((period.last_day - period.first_day).days + 1)]
    starts, at = [], period.start.astimezone(dt.UTC)
    end = period.end.astimezone(dt.UTC)
    while at < end:
        starts.append(at.astimezone(period.zone))
        at += dt.timedelta(hours=1)
    return starts
