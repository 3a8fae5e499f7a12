"""Message counters' upkeep, and the campaigns report within each reader's scope."""

import datetime as dt

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.conversations import events
from apps.reports.models import MessageMinute
from apps.reports.periods import period_parse
from apps.reports.selectors import report_campaigns
from conversa.redis import get_redis, redis_key
from tests.campaigns.conftest import make_audience, make_campaign
from tests.fixtures.reports import announce, message_row
from tests.fixtures.routing import routed_inbox


def test_minutes_older_than_two_hours_are_pruned_as_new_messages_are_counted(week):
    schema = week.company.schema_name
    get_redis().delete(redis_key("reports", "minutes-pruned", schema))
    now = timezone.now().replace(second=0, microsecond=0)
    with schema_context(schema):
        MessageMinute.objects.create(minute=now - dt.timedelta(hours=3), team_id=week.sp.pk, inbound=4)
        MessageMinute.objects.create(minute=now - dt.timedelta(minutes=90), team_id=week.sp.pk, inbound=2)
    fresh = message_row(week.company, week.conversations["c1"], direction="inbound", at_time=timezone.now())
    announce(week.company, [(events.MESSAGE_CREATED, {"message_id": fresh.pk})])
    with schema_context(schema):
        kept = sorted(MessageMinute.objects.values_list("inbound", flat=True))
    assert kept == [1, 2]  # the new message's minute and the one 90 minutes old


def test_campaigns_of_the_period_with_their_counts_and_supervisors_see_their_teams_inboxes(week):
    sp_inbox, ny_inbox = routed_inbox(week.company, week.sp), routed_inbox(week.company, week.ny)
    tag, _people = make_audience(week.company, 2)
    ours = make_campaign(week.company, actor=week.admin, inbox=sp_inbox, tags=[tag], name="Black Friday SP")
    make_campaign(week.company, actor=week.admin, inbox=ny_inbox, tags=[tag], name="Black Friday NY")
    today = timezone.now().astimezone(dt.UTC).date().isoformat()
    period = period_parse(first=today, last=today, tz="UTC", company_tz="UTC")
    with schema_context(week.company.schema_name):
        everyone = report_campaigns(week.admin, period)["items"]
        supervisor = report_campaigns(week.supervisor, period)["items"]
        last_week = report_campaigns(week.admin, period_parse(first="2026-11-05", last="2026-11-09", tz=None,
                                                              company_tz="UTC"))["items"]
    assert [item["name"] for item in everyone] == ["Black Friday SP", "Black Friday NY"]
    assert [item["campaign_id"] for item in supervisor] == [ours.pk]
    assert supervisor[0]["status"] == "draft" and supervisor[0]["stats"]["total"] == 0
    assert last_week == []
