"""The live dashboard: what real services change shows at once, `report.live` frames reach only
managers with their own teams' figures, and pushes are coalesced to one a second per company."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from huey import signals
from huey.contrib.djhuey import HUEY

from apps.conversations.models import Conversation
from apps.conversations.outbound import message_send
from apps.conversations.services import conversation_assign, conversation_close
from apps.reports import tasks
from apps.reports.facts import facts_refresh
from apps.reports.live import live_frames, live_push, report_live
from conversa.redis import get_redis
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import receive
from tests.fixtures.routing import add_member, make_team, routed_inbox

pytestmark = pytest.mark.django_db


def test_a_message_and_a_reply_show_on_the_dashboard_at_once(alpha, django_capture_on_commit_callbacks):
    team = make_team(alpha, routing="manual", name="Plantão")
    inbox = routed_inbox(alpha, team)
    admin = make_user(alpha, role="admin")
    agent = make_user(alpha)
    add_member(alpha, team, agent)
    with schema_context(alpha.schema_name):
        before = report_live(admin, company=alpha)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, inbox, text="Oi, preciso de ajuda")
    with schema_context(alpha.schema_name):
        waiting = report_live(admin, company=alpha)
        queue = next(queue for queue in waiting["queues"] if queue["team_id"] == team.pk)
        assert queue["size"] == 1
        assert waiting["conversations_today"]["opened"] == before["conversations_today"]["opened"] + 1
        assert waiting["messages_last_hour"]["inbound"] == before["messages_last_hour"]["inbound"] + 1
        conversation = Conversation.objects.get(pk=message.conversation_id)
        with django_capture_on_commit_callbacks(execute=True):
            conversation_assign(conversation=conversation, assignee=agent, actor=admin)
            message_send(conversation=conversation, author=agent, text="Claro!")
            conversation_close(conversation=conversation, actor=agent, outcome="information")
        after = report_live(admin, company=alpha)
    assert next(q for q in after["queues"] if q["team_id"] == team.pk)["size"] == 0
    assert after["messages_last_hour"]["outbound"] == before["messages_last_hour"]["outbound"] + 1
    assert after["conversations_today"]["closed"] == before["conversations_today"]["closed"] + 1


def test_frames_go_to_admins_and_to_each_supervisor_with_their_teams_only(week, bravo):
    with schema_context(week.company.schema_name):
        frames = dict(live_frames(schema_name=week.company.schema_name))
    assert set(frames) == {"admins", f"user.{week.supervisor.pk}"}
    assert [queue["name"] for queue in frames["admins"]["queues"]] == ["Support NY", "Vendas SP"]
    assert frames["admins"]["queues"][0]["size"] == 1  # c4, waiting since Monday the 9th
    supervisor = frames[f"user.{week.supervisor.pk}"]
    assert [queue["name"] for queue in supervisor["queues"]] == ["Vendas SP"]
    assert {agent["name"] for agent in supervisor["agents"]["items"]} == {"Ana Agent", "Sara Supervisor"}
    with schema_context(bravo.schema_name):
        theirs = dict(live_frames(schema_name=bravo.schema_name))
    assert all(queue["size"] == 0 for queue in theirs["admins"]["queues"])
    assert "Support NY" not in [queue["name"] for queue in theirs["admins"]["queues"]]


def test_frames_are_computed_only_for_the_managers_with_a_socket_open(week):
    schema = week.company.schema_name
    with schema_context(schema):
        assert live_push(schema_name=schema) == 0  # nobody is online
        frames = live_frames(schema_name=schema, online={week.supervisor.pk, week.ana.pk})
    assert [group for group, _data in frames] == [f"user.{week.supervisor.pk}"]


def test_sla_today_counts_the_verdicts_of_conversations_opened_today(week):
    now = timezone.now()
    with schema_context(week.company.schema_name):
        c2 = week.conversations["c2"]
        Conversation.objects.filter(pk=c2.pk).update(created_at=now - dt.timedelta(minutes=5))
        facts_refresh([c2.pk])
        live = report_live(week.admin, company=week.company)
    assert live["sla_today"] == {"met": 0, "breached": 1, "compliance": 0.0}


def test_live_reads_a_fixed_handful_of_queries(week, django_assert_max_num_queries):
    with schema_context(week.company.schema_name), django_assert_max_num_queries(8):
        report_live(week.supervisor, company=week.company)


def test_pushes_are_coalesced_to_one_a_second_with_one_trailing_push(alpha):
    redis = get_redis()
    redis.delete(*tasks._keys(alpha.schema_name))
    HUEY.flush()
    pushed = []

    @HUEY.signal(signals.SIGNAL_COMPLETE)
    def count(signal, task, *args):
        if task.name.endswith("reports_live_push"):
            pushed.append(task)

    try:
        with schema_context(alpha.schema_name):
            for _ in range(5):
                tasks.live_push_request(alpha.schema_name)
    finally:
        HUEY.disconnect_signal(count)
    assert len(pushed) == 1  # the first request, at once
    trailing = [task for task in HUEY.scheduled() if task.name.endswith("reports_live_push")]
    assert len(trailing) == 1 and trailing[0].args == (alpha.schema_name,)
    assert 0 < (trailing[0].eta - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds() <= 1.0
    HUEY.flush()
