"""`manage.py rebuild_reports` gives back the figures the events kept."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import schema_context

from apps.conversations import events
from apps.reports.models import ConversationFact, MessageHour, MessageMinute
from apps.reports.periods import period_parse
from apps.reports.selectors import report_agents, report_inboxes, report_summary, report_teams, report_trends
from tests.fixtures.reports import SP, announce, at, message_row


def figures(week) -> dict:
    period = period_parse(first="2026-11-01", last="2026-11-30", tz=None, company_tz="America/Sao_Paulo")
    with schema_context(week.company.schema_name):
        return {
            "summary": report_summary(week.admin, period),
            "agents": report_agents(week.admin, period),
            "teams": report_teams(week.admin, period),
            "inboxes": report_inboxes(week.admin, period),
            "trend": report_trends(week.admin, period, metric="messages_out", interval="day"),
        }


def rebuild(week, **options) -> str:
    out = io.StringIO()
    call_command("rebuild_reports", slug=week.company.slug, stdout=out, **options)
    return out.getvalue()


def test_a_rebuild_from_nothing_gives_the_figures_the_events_kept(week):
    kept = figures(week)
    with schema_context(week.company.schema_name):
        ConversationFact.objects.all().delete()
        MessageHour.objects.all().delete()
    assert figures(week)["summary"]["conversations"]["opened"] == 0

    output = rebuild(week)

    assert f"{week.company.slug}: 6 conversations" in output
    assert figures(week) == kept


def test_a_rebuild_from_a_day_replaces_only_what_happened_since(week):
    kept = figures(week)
    with schema_context(week.company.schema_name):
        # Rollups of the 9th lost (in São Paulo time; the 9th starts at 03:00 UTC).
        ConversationFact.objects.filter(closed_at__gte=at(SP, 9, 0)).delete()
        MessageHour.objects.filter(hour__gte=at(SP, 9, 0)).delete()

    rebuild(week, since="2026-11-09")

    assert figures(week) == kept


def test_messages_a_rebuild_counted_are_not_counted_again_by_their_events(week):
    c1 = week.conversations["c1"]
    late = message_row(week.company, c1, direction="inbound", at_time=at(SP, 9, 15, 0))
    rebuild(week)
    # The message's event arrives after the rebuild counted it (e.g. a slow worker).
    announce(week.company, [(events.MESSAGE_CREATED, {"message_id": late.pk})])
    assert figures(week)["summary"]["messages"] == {"inbound": 7, "outbound": 3}
    # Later messages are counted by their events as usual.
    later = message_row(week.company, c1, direction="outbound", at_time=at(SP, 9, 16, 0), sender=week.ana)
    announce(week.company, [(events.MESSAGE_CREATED, {"message_id": later.pk})])
    assert figures(week)["summary"]["messages"] == {"inbound": 7, "outbound": 4}


def test_recent_minutes_are_rebuilt_and_old_ones_left_out(week):
    with schema_context(week.company.schema_name):
        rebuild(week)
        # The seeded week is long past: nothing of it is within the live dashboard's last hour.
        assert MessageMinute.objects.count() == 0


def test_an_unknown_company_or_day_is_refused(week):
    with pytest.raises(CommandError):
        call_command("rebuild_reports", slug="no-such-company", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("rebuild_reports", slug=week.company.slug, since="9 Nov", stdout=io.StringIO())
