"""Business hours: open or closed, the closed period a moment falls in, and deadlines that count only
open time, across weekends, holidays and DST (expected instants worked out by hand, written in UTC)."""

import datetime as dt
import time

import pytest

from apps.teams.hours import (
    add_business_seconds,
    closed_period_start,
    is_open,
    next_open,
    validate_business_hours,
)

UTC = dt.UTC
WEEKDAYS_9_TO_18 = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# São Paulo is UTC−3 all year (no DST since 2019); 2026-12-25 is a Friday.
SAO_PAULO = {"timezone": "America/Sao_Paulo", "days": WEEKDAYS_9_TO_18, "holidays": ["2026-12-25"]}
# New York moves to EDT (UTC−4) on Sunday 2026-03-08 and back to EST (UTC−5) on Sunday 2026-11-01.
NEW_YORK = {"timezone": "America/New_York",
            "days": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}}
HOUR = 3600


def sp(*args) -> dt.datetime:
    """A São Paulo wall-clock time."""
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=-3)))


def test_empty_hours_are_always_open_and_count_every_second():
    start = dt.datetime(2026, 12, 25, 3, 0, tzinfo=UTC)
    assert is_open({}, start) and is_open(None, start)
    assert closed_period_start({}, start) is None
    assert add_business_seconds({}, start, 90) == start + dt.timedelta(seconds=90)


def test_open_and_closed_by_weekday_hour_and_holiday():
    assert is_open(SAO_PAULO, sp(2026, 12, 18, 9, 0))  # Friday, at opening
    assert is_open(SAO_PAULO, sp(2026, 12, 18, 17, 59))
    assert not is_open(SAO_PAULO, sp(2026, 12, 18, 18, 0))  # the end is exclusive
    assert not is_open(SAO_PAULO, sp(2026, 12, 18, 8, 59))
    assert not is_open(SAO_PAULO, sp(2026, 12, 19, 12, 0))  # Saturday: no hours
    assert not is_open(SAO_PAULO, sp(2026, 12, 25, 12, 0))  # Christmas: a holiday
    # The same instant written in UTC: 12:00 UTC is 09:00 in São Paulo.
    assert is_open(SAO_PAULO, dt.datetime(2026, 12, 18, 12, 0, tzinfo=UTC))
    assert not is_open(SAO_PAULO, dt.datetime(2026, 12, 18, 11, 59, tzinfo=UTC))


def test_a_deadline_across_a_weekend_in_sao_paulo():
    # Friday 17:00: one hour left that day, the weekend is closed, the second hour is Monday 09–10.
    assert add_business_seconds(SAO_PAULO, sp(2026, 12, 18, 17, 0), 2 * HOUR) == dt.datetime(
        2026, 12, 21, 13, 0, tzinfo=UTC
    )


def test_a_deadline_across_a_holiday_and_a_weekend_in_sao_paulo():
    # Thursday 24th 17:30: 30 minutes, then Friday (Christmas), Saturday and Sunday closed;
    # the remaining 3 h 30 run Monday 28th 09:00–12:30 (15:30 UTC).
    assert add_business_seconds(SAO_PAULO, sp(2026, 12, 24, 17, 30), 4 * HOUR) == dt.datetime(
        2026, 12, 28, 15, 30, tzinfo=UTC
    )
    # Two business days (18 h) from Wednesday 23rd 10:00: 8 h Wednesday, 9 h Thursday, the last
    # hour on Monday 28th 09:00–10:00.
    assert add_business_seconds(SAO_PAULO, sp(2026, 12, 23, 10, 0), 18 * HOUR) == dt.datetime(
        2026, 12, 28, 13, 0, tzinfo=UTC
    )


def test_a_deadline_started_while_closed_starts_counting_at_opening():
    # Saturday night: nothing counts until Monday 09:00; 30 minutes later is 09:30 (12:30 UTC).
    assert add_business_seconds(SAO_PAULO, sp(2026, 12, 19, 23, 0), 1800) == dt.datetime(
        2026, 12, 21, 12, 30, tzinfo=UTC
    )
    # Exactly the rest of a day ends at closing time, not at the next opening.
    assert add_business_seconds(SAO_PAULO, sp(2026, 12, 21, 9, 0), 9 * HOUR) == dt.datetime(
        2026, 12, 21, 21, 0, tzinfo=UTC
    )


def test_a_deadline_across_the_spring_forward_weekend_in_new_york():
    # Friday 2026-03-06 16:00 EST (21:00 UTC): 1 h left. Monday opens at 09:00 EDT = 13:00 UTC, so
    # the deadline is 14:00 UTC (a fixed −5 h offset would say 15:00 UTC).
    assert add_business_seconds(NEW_YORK, dt.datetime(2026, 3, 6, 21, 0, tzinfo=UTC), 2 * HOUR) == (
        dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    )


def test_a_deadline_across_the_fall_back_weekend_in_new_york():
    # Friday 2026-10-30 16:00 EDT (20:00 UTC): 1 h left; Monday opens at 09:00 EST = 14:00 UTC.
    assert add_business_seconds(NEW_YORK, dt.datetime(2026, 10, 30, 20, 0, tzinfo=UTC), 2 * HOUR) == (
        dt.datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    )


def test_a_whole_day_open_on_the_dst_change_lasts_as_long_as_the_clock_says():
    sundays = {"timezone": "America/New_York", "days": {"sun": [["00:00", "24:00"]]}}
    # Sunday 2026-03-08 has 23 hours (00:00 EST = 05:00 UTC to midnight EDT = 04:00 UTC Monday):
    # 24 h of open time end one hour into the next Sunday (2026-03-15 00:00 EDT = 04:00 UTC).
    assert add_business_seconds(sundays, dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC), 24 * HOUR) == (
        dt.datetime(2026, 3, 15, 5, 0, tzinfo=UTC)
    )
    # Sunday 2026-11-01 has 25 hours: 24 h from its start end before its midnight.
    assert add_business_seconds(sundays, dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 24 * HOUR) == (
        dt.datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    )


def test_intervals_that_meet_at_midnight_are_one_open_period():
    night = {"timezone": "UTC", "days": {"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]}}
    monday_23 = dt.datetime(2026, 12, 21, 23, 0, tzinfo=UTC)
    assert is_open(night, monday_23) and is_open(night, dt.datetime(2026, 12, 22, 0, 0, tzinfo=UTC))
    assert add_business_seconds(night, monday_23, 2 * HOUR) == dt.datetime(2026, 12, 22, 1, 0, tzinfo=UTC)
    assert closed_period_start(night, dt.datetime(2026, 12, 22, 7, 0, tzinfo=UTC)) == (
        "2026-12-22T06:00:00+00:00"
    )


def test_several_intervals_a_day_leave_the_lunch_break_out():
    split = {"timezone": "UTC", "days": {"mon": [["13:00", "18:00"], ["09:00", "12:00"]]}}
    assert not is_open(split, dt.datetime(2026, 12, 21, 12, 30, tzinfo=UTC))
    # 11:00 + 2 h: one hour before lunch, one after.
    assert add_business_seconds(split, dt.datetime(2026, 12, 21, 11, 0, tzinfo=UTC), 2 * HOUR) == (
        dt.datetime(2026, 12, 21, 14, 0, tzinfo=UTC)
    )


def test_every_moment_of_one_closed_period_has_the_same_key_and_the_next_period_another():
    friday_evening = closed_period_start(SAO_PAULO, sp(2026, 12, 18, 19, 0))
    assert friday_evening == "2026-12-18T21:00:00+00:00"  # Friday 18:00 in São Paulo
    assert closed_period_start(SAO_PAULO, sp(2026, 12, 19, 12, 0)) == friday_evening
    assert closed_period_start(SAO_PAULO, sp(2026, 12, 21, 8, 59)) == friday_evening
    assert closed_period_start(SAO_PAULO, sp(2026, 12, 21, 10, 0)) is None  # open
    assert closed_period_start(SAO_PAULO, sp(2026, 12, 21, 18, 30)) == "2026-12-21T21:00:00+00:00"
    # The holiday extends Thursday evening's closed period to Monday.
    assert closed_period_start(SAO_PAULO, sp(2026, 12, 25, 12, 0)) == "2026-12-24T21:00:00+00:00"


def test_next_open():
    assert next_open(SAO_PAULO, sp(2026, 12, 24, 18, 0)) == dt.datetime(2026, 12, 28, 12, 0, tzinfo=UTC)
    assert next_open(SAO_PAULO, sp(2026, 12, 28, 10, 0)) == sp(2026, 12, 28, 10, 0)


def test_hours_that_never_open_give_no_deadline():
    never = {"timezone": "UTC", "days": {}}
    at = dt.datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
    assert not is_open(never, at)
    assert add_business_seconds(never, at, 60) is None and next_open(never, at) is None
    assert closed_period_start(never, at) == "closed"


def test_without_days_every_day_is_open_but_holidays():
    holidays_only = {"timezone": "America/Sao_Paulo", "holidays": ["2026-12-25"]}
    assert is_open(holidays_only, sp(2026, 12, 26, 3, 0))
    assert not is_open(holidays_only, sp(2026, 12, 25, 12, 0))
    assert add_business_seconds(holidays_only, sp(2026, 12, 24, 23, 0), 2 * HOUR) == dt.datetime(
        2026, 12, 26, 4, 0, tzinfo=UTC
    )


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        is_open(SAO_PAULO, dt.datetime(2026, 12, 21, 10, 0))  # noqa: DTZ001


def test_deadlines_are_fast():
    start = sp(2026, 12, 18, 17, 0)
    began = time.perf_counter()
    for minute in range(2000):
        add_business_seconds(SAO_PAULO, start + dt.timedelta(minutes=minute), 3 * 24 * HOUR)
    assert time.perf_counter() - began < 2.0  # about 0.15 ms each on the dev machine


def test_valid_hours_have_no_details():
    assert validate_business_hours({}) == []
    assert validate_business_hours(SAO_PAULO) == []
    assert validate_business_hours(
        {"timezone": "UTC", "days": {"sat": [["00:00", "12:00"], ["13:00", "24:00"]]}, "holidays": []}
    ) == []


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ("9 to 5", "business_hours"),
        ({"timezone": "Mars/Olympus", "days": {}}, "business_hours.timezone"),
        ({"days": {}}, "business_hours.timezone"),
        ({"timezone": "UTC", "days": {"monday": [["09:00", "18:00"]]}}, "business_hours.days.monday"),
        ({"timezone": "UTC", "days": {"mon": [["9:00", "18:00"]]}}, "business_hours.days.mon.0"),
        ({"timezone": "UTC", "days": {"mon": [["09:60", "18:00"]]}}, "business_hours.days.mon.0"),
        ({"timezone": "UTC", "days": {"mon": [["24:00", "24:00"]]}}, "business_hours.days.mon.0"),
        ({"timezone": "UTC", "days": {"mon": [["18:00", "09:00"]]}}, "business_hours.days.mon.0"),
        ({"timezone": "UTC", "days": {"mon": [["09:00"]]}}, "business_hours.days.mon.0"),
        ({"timezone": "UTC", "days": {"mon": "09:00-18:00"}}, "business_hours.days.mon"),
        ({"timezone": "UTC", "days": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}},
         "business_hours.days.mon.1"),
        ({"timezone": "UTC", "holidays": ["25/12/2026"]}, "business_hours.holidays.0"),
        ({"timezone": "UTC", "holidays": ["2026-02-30"]}, "business_hours.holidays.0"),
        ({"timezone": "UTC", "holidays": "2026-12-25"}, "business_hours.holidays"),
        ({"timezone": "UTC", "weekends": True}, "business_hours.weekends"),
    ],
)
def test_invalid_hours_name_the_field_at_fault(hours, field):
    details = validate_business_hours(hours)
    assert [detail["field"] for detail in details] == [field]
    assert all(detail["message"] for detail in details)
