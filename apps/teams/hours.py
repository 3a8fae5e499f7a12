"""Business hours: when a team is open, and deadlines that count only its open time (SPEC §7).

Pure functions of a team's `business_hours` and aware datetimes, no database:

    {"timezone": "America/Sao_Paulo",
     "days": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["09:00", "13:00"]]},
     "holidays": ["2026-12-25"]}

An empty dict (or None) is always open. A weekday missing from `days` is closed all day; without a
`days` key at all every day is open all day (holidays still close). "24:00" ends a day, and an
interval ending at 24:00 joins one starting at 00:00 the next day into one open period. Times are
wall-clock times in the zone, so a DST change shortens or lengthens the day's open period by the
hour it skips or repeats, exactly as the clock on the wall does.
"""

import datetime as dt
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_PER_DAY = 12
MAX_HOLIDAYS = 500
# How far (in days) the functions look for an open period. A schedule open never within it is
# treated as never open: deadlines and the next opening are then None.
HORIZON_DAYS = 800
UTC = dt.UTC
_DAY = 24 * 60
_WHOLE_DAY = ((0, _DAY),)


@dataclass(frozen=True)
class _Schedule:
    always_open: bool
    zone: ZoneInfo
    # Per weekday (Monday first): sorted, merged (start, end) minutes after local midnight.
    days: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date]


def _minutes(value: str) -> int | None:
    """"HH:MM" as minutes after midnight (24:00 → 1440); None if malformed."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        return None
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > _DAY:
        return None
    return total


def _merged(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _zone(name) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=512)
def _compile_json(key: str) -> _Schedule:
    hours = json.loads(key)
    # Stored hours were validated; anything malformed that slipped in is ignored, never fatal to a
    # sweep that reads every team.
    zone = _zone(hours.get("timezone")) or ZoneInfo("UTC")
    holidays = set()
    for value in hours.get("holidays") or []:
        try:
            holidays.add(dt.date.fromisoformat(value))
        except (TypeError, ValueError):
            continue
    if "days" not in hours:
        days = (_WHOLE_DAY,) * 7
    else:
        given = hours.get("days") or {}
        days = []
        for name in WEEKDAYS:
            intervals = []
            for pair in given.get(name) or []:
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    start, end = _minutes(pair[0]), _minutes(pair[1])
                    if start is not None and end is not None and start < end:
                        intervals.append((start, end))
            days.append(_merged(intervals))
        days = tuple(days)
    return _Schedule(always_open=False, zone=zone, days=days, holidays=frozenset(holidays))


_ALWAYS = _Schedule(always_open=True, zone=ZoneInfo("UTC"), days=(_WHOLE_DAY,) * 7, holidays=frozenset())


def _compile(hours: dict | None) -> _Schedule:
    if not hours:
        return _ALWAYS
    return _compile_json(json.dumps(hours, sort_keys=True))


def _wall(schedule: _Schedule, day: dt.date, minutes: int) -> dt.datetime:
    """The instant (UTC) the zone's clocks show `minutes` after midnight of `day`. A wall time the
    clocks skip (spring forward) maps to the moment they pass it."""
    day += dt.timedelta(days=minutes // _DAY)
    minutes %= _DAY
    local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=schedule.zone)
    return local.astimezone(UTC)


@functools.lru_cache(maxsize=8192)
def _day_intervals(schedule: _Schedule, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """A day's open intervals as instants; cached, since deadlines walk the same weeks again and again."""
    if day in schedule.holidays:
        return ()
    return tuple(
        (_wall(schedule, day, start), _wall(schedule, day, end))
        for start, end in schedule.days[day.weekday()]
    )


def _open_periods_from(schedule: _Schedule, at: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The open periods (UTC, merged across midnight) that end after `at`, in order."""
    first = at.astimezone(schedule.zone).date() - dt.timedelta(days=1)
    pending = None
    for offset in range(HORIZON_DAYS):
        for start, end in _day_intervals(schedule, first + dt.timedelta(days=offset)):
            if pending is not None and start <= pending[1]:
                pending = (pending[0], max(pending[1], end))
                continue
            if pending is not None and pending[1] > at:
                yield pending
            pending = (start, end)
    if pending is not None and pending[1] > at:
        yield pending


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("business hours need an aware datetime")
    return at.astimezone(UTC)


def is_open(hours: dict | None, at: dt.datetime) -> bool:
    """Whether the team is open at the instant `at`."""
    schedule = _compile(hours)
    if schedule.always_open:
        return True
    at = _aware(at)
    day = at.astimezone(schedule.zone).date()
    return any(start <= at < end for start, end in _day_intervals(schedule, day))


def next_open(hours: dict | None, at: dt.datetime) -> dt.datetime | None:
    """`at` if open then, else when the team next opens (UTC); None if never within the horizon."""
    schedule = _compile(hours)
    if schedule.always_open:
        return at
    at = _aware(at)
    for start, _end in _open_periods_from(schedule, at):
        return max(start, at)
    return None


def closed_period_start(hours: dict | None, at: dt.datetime) -> str | None:
    """A key of the closed period containing `at`, the same for every instant of that period and
    different for any other: when it began (UTC, ISO). None while open. "closed" when no open
    period ended within the horizon before it."""
    schedule = _compile(hours)
    if schedule.always_open:
        return None
    at = _aware(at)
    if is_open(hours, at):
        return None
    day = at.astimezone(schedule.zone).date() + dt.timedelta(days=1)
    for offset in range(HORIZON_DAYS):
        ends = [end for _start, end in _day_intervals(schedule, day - dt.timedelta(days=offset)) if end <= at]
        if ends:
            # A later day's periods all end after an earlier day's: the first day found has the last.
            return max(ends).isoformat()
    return "closed"


def add_business_seconds(hours: dict | None, start: dt.datetime, seconds: int) -> dt.datetime | None:
    """The instant (UTC) when `seconds` of open time have passed since `start`: time while closed
    (nights, weekends, holidays) does not count. None if the team never opens within the horizon."""
    schedule = _compile(hours)
    start = _aware(start)
    remaining = dt.timedelta(seconds=seconds)
    if schedule.always_open:
        return start + remaining
    for period_start, period_end in _open_periods_from(schedule, start):
        begin = max(period_start, start)
        if begin + remaining <= period_end:
            return begin + remaining
        remaining -= period_end - begin
    return None


def business_seconds_between(hours: dict | None, start: dt.datetime, end: dt.datetime) -> int:
    """Seconds of open time from `start` to `end` (0 when `end` is not after `start`): what a
    conversation waited within business hours. The inverse of `add_business_seconds`."""
    schedule = _compile(hours)
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0
    if schedule.always_open:
        return int((end - start).total_seconds())
    total = dt.timedelta()
    for period_start, period_end in _open_periods_from(schedule, start):
        if period_start >= end:
            break
        total += min(period_end, end) - max(period_start, start)
    return int(total.total_seconds())


def validate_business_hours(data, field: str = "business_hours") -> list[dict]:
    """What is wrong with `data` as business hours, as SPEC §13 details (empty: valid)."""
    if data is None or data == {}:
        return []
    if not isinstance(data, dict):
        return [{"field": field, "message": _("Must be an object with timezone, days and holidays.")}]
    details = []

    def wrong(where: str, message: str) -> None:
        details.append({"field": f"{field}.{where}", "message": message})

    for key in sorted(set(data) - {"timezone", "days", "holidays"}):
        wrong(key, _("Unknown field."))
    if _zone(data.get("timezone")) is None:
        wrong("timezone", _("A valid IANA time zone is required."))
    days = data.get("days", {})
    if not isinstance(days, dict):
        wrong("days", _("Must be an object keyed by mon … sun."))
        days = {}
    for name, intervals in days.items():
        where = f"days.{name}"
        if name not in WEEKDAYS:
            wrong(where, _("Unknown weekday: use mon, tue, wed, thu, fri, sat, sun."))
            continue
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS_PER_DAY:
            wrong(where, _("A list of at most %(max)d [start, end] pairs.") % {"max": MAX_INTERVALS_PER_DAY})
            continue
        parsed = []
        for index, pair in enumerate(intervals):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                wrong(f"{where}.{index}", _("A [start, end] pair."))
                continue
            start, end = _minutes(pair[0]), _minutes(pair[1])
            if start is None or end is None or start == _DAY:
                wrong(f"{where}.{index}", _("Times are HH:MM, 00:00 to 23:59 (24:00 may end a day)."))
            elif start >= end:
                wrong(f"{where}.{index}", _("The start must be before the end."))
            else:
                parsed.append((start, end, index))
        parsed.sort()
        for (_start, end, _index), (next_start, _end, next_index) in zip(parsed, parsed[1:], strict=False):
            if next_start < end:
                wrong(f"{where}.{next_index}", _("Overlaps another interval."))
    holidays = data.get("holidays", [])
    if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
        wrong("holidays", _("A list of at most %(max)d dates (YYYY-MM-DD).") % {"max": MAX_HOLIDAYS})
        holidays = []
    for index, value in enumerate(holidays):
        try:
            valid = isinstance(value, str) and len(value) == 10 and bool(dt.date.fromisoformat(value))
        except ValueError:
            valid = False
        if not valid:
            wrong(f"holidays.{index}", _("A date as YYYY-MM-DD."))
    return details
