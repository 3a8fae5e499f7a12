"""The reports' figures against the hand-computed seeded week (tests/reports/conftest.py)."""

from django_tenants.utils import schema_context

from apps.reports.periods import period_parse
from apps.reports.selectors import report_agents, report_summary, report_teams, report_trends

WEEK = {"from": "2026-11-05", "to": "2026-11-09"}


def period(first="2026-11-05", last="2026-11-09", tz=None):
    return period_parse(first=first, last=last, tz=tz, company_tz="America/Sao_Paulo")


def test_the_summary_matches_the_hand_computed_week(week):
    with schema_context(week.company.schema_name):
        summary = report_summary(week.admin, period())
    # c6 opened on the 4th in São Paulo: outside; c1–c5 inside.
    assert summary["conversations"] == {"opened": 5, "closed": 3}
    # First responses in business seconds: c5 600 (no team: 24/7), c1 1200 (Fri 17:50 → Mon 09:10
    # is 10 + 10 minutes), c2 1800, c3 2700 (Fri 16:30 → Mon 09:15 New York is 30 + 15 minutes).
    assert summary["first_response"] == {"count": 4, "median_seconds": 1500.0, "p90_seconds": 2430.0}
    # Resolutions: c1 3000, c3 5400 (30 min Fri + 60 min Mon), c2 7200.
    assert summary["resolution"] == {"count": 3, "median_seconds": 5400.0, "p90_seconds": 6840.0}
    assert summary["sla"] == {"met": 1, "breached": 2, "pending": 0, "compliance": 0.3333}
    assert summary["csat"] == {"count": 3, "average": 4.0,
                               "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}}
    assert summary["outcomes"] == [{"outcome": "no_sale", "count": 1, "value": None},
                                   {"outcome": "sale", "count": 1, "value": "100.00"}]
    # c6's message (the 4th) is outside; the other 8 inside.
    assert summary["messages"] == {"inbound": 5, "outbound": 3}
    assert summary["agent_time"]["available"] == 7200 and summary["agent_time"]["paused"] == 1800


def test_days_start_at_midnight_in_the_asked_time_zone(week):
    with schema_context(week.company.schema_name):
        in_utc = report_summary(week.admin, period(tz="UTC"))
        only_the_4th = report_summary(week.admin, period("2026-11-04", "2026-11-04"))
    # 2026-11-05 02:30 UTC is the 5th in UTC: c6 counts there.
    assert in_utc["conversations"]["opened"] == 6
    assert only_the_4th["conversations"]["opened"] == 1
    assert only_the_4th["messages"] == {"inbound": 1, "outbound": 0}


def test_a_supervisor_reads_only_the_figures_of_their_teams(week):
    with schema_context(week.company.schema_name):
        summary = report_summary(week.supervisor, period())
        teams = report_teams(week.supervisor, period())
        agents = report_agents(week.supervisor, period())
    assert summary["conversations"] == {"opened": 2, "closed": 2}
    assert summary["first_response"]["median_seconds"] == 1500.0
    assert summary["sla"]["compliance"] == 0.5
    assert summary["messages"] == {"inbound": 3, "outbound": 2}
    assert [item["name"] for item in teams["items"]] == ["Vendas SP"]
    assert {item["name"] for item in agents["items"]} == {"Ana Agent", "Sara Supervisor"}


def test_per_agent_and_per_team_figures(week):
    with schema_context(week.company.schema_name):
        agents = {item["name"]: item for item in report_agents(week.admin, period())["items"]}
        teams = {item["name"]: item for item in report_teams(week.admin, period())["items"]}
    ana, bob = agents["Ana Agent"], agents["Bob Agent"]
    assert ana["conversations"] == {"opened": 3, "closed": 2}
    assert ana["first_response"]["median_seconds"] == 1200.0
    assert ana["messages"] == {"inbound": 3, "outbound": 2}
    assert ana["agent_time"] == {"available": 7200, "busy": 0, "paused": 1800, "offline": 0}
    assert bob["resolution"]["median_seconds"] == 5400.0 and bob["csat"]["average"] == 4.0
    assert agents["Unassigned"]["conversations"]["opened"] == 1
    assert teams["Support NY"]["sla"] == {"met": 0, "breached": 1, "pending": 0, "compliance": 0.0}
    assert teams["No team"]["first_response"]["median_seconds"] == 600.0


def test_daily_trends_follow_the_local_days(week):
    with schema_context(week.company.schema_name):
        opened = report_trends(week.admin, period(), metric="conversations_opened", interval="day")
        messages = report_trends(week.admin, period(), metric="messages_in", interval="day")
    assert [(point["at"][:10], point["value"]) for point in opened["points"]] == [
        ("2026-11-05", 0), ("2026-11-06", 2), ("2026-11-07", 1), ("2026-11-08", 0), ("2026-11-09", 2)]
    assert opened["points"][0]["at"] == "2026-11-05T00:00:00-03:00"
    assert [point["value"] for point in messages["points"]] == [0, 2, 0, 0, 3]


def test_business_seconds_skip_nights_weekends_and_holidays_and_invert_deadlines():
    import datetime as dt

    from apps.teams.hours import add_business_seconds, business_seconds_between

    hours = {"timezone": "America/New_York", "holidays": ["2026-11-09"],
             "days": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}}
    friday = dt.datetime(2026, 11, 6, 21, 30, tzinfo=dt.UTC)  # 16:30 in New York
    tuesday = dt.datetime(2026, 11, 10, 14, 15, tzinfo=dt.UTC)  # 09:15, Monday being a holiday
    assert business_seconds_between(hours, friday, tuesday) == 45 * 60
    assert business_seconds_between(hours, tuesday, friday) == 0
    assert add_business_seconds(hours, friday, 45 * 60) == tuesday
    assert business_seconds_between({}, friday, tuesday) == int((tuesday - friday).total_seconds())
