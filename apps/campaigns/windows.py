"""Send windows: `{days: ["mon", …], start: "09:00", end: "18:00"}` in the campaign's time zone."""

import datetime as dt
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def next_opening(window: dict, zone: str, now: dt.datetime) -> dt.datetime | None:
    """None when sending is allowed at `now`, else the next moment the window opens (aware, UTC).

    The window is [start, end) on each listed day, in local wall-clock time.
    """
    if not window:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    start, end = _hhmm(window["start"]), _hhmm(window["end"])
    days = set(window["days"])
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if DAYS[day.weekday()] not in days:
            continue
        opens = dt.datetime.combine(day, start, tzinfo=tz)
        closes = dt.datetime.combine(day, end, tzinfo=tz)
        if offset == 0 and opens <= local < closes:
            return None
        if opens > local:
            return opens.astimezone(dt.UTC)
    return None  # no day listed: validation forbids it, so never closed
