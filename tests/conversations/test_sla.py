"""SLA: deadlines within the team's business hours, met by an answer or a close, breaches flagged and
notified once however many sweeps run."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone, translation
from django_tenants.utils import schema_context
from huey.contrib.djhuey import HUEY

from apps.conversations import automation_tasks
from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.outbound import message_send
from apps.conversations.services import conversation_close, conversation_transfer
from apps.conversations.sla import sla_breaches_flag
from apps.inboxes.services import inbox_create
from apps.notifications.models import Notification
from apps.teams.models import Team, TeamMember
from apps.web.templatetags.web_tags import event_text
from conversa import periodic
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import new_phone, receive

pytestmark = pytest.mark.django_db

UTC = dt.UTC
HOUR = 3600
# Weekdays 09:00–18:00 in São Paulo (UTC−3); Friday 2026-11-20 (Black Consciousness Day) is a holiday.
SAO_PAULO = {
    "timezone": "America/Sao_Paulo",
    "days": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-11-20"],
}


def sp(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=-3)))


def make_team(company, **fields) -> Team:
    with schema_context(company.schema_name):
        return Team.objects.create(name=f"Team {uuid.uuid4().hex[:8]}", **fields)


def join(company, team, user) -> None:
    with schema_context(company.schema_name):
        TeamMember.objects.create(team=team, user=user)


def team_inbox(company, team, **settings):
    with schema_context(company.schema_name):
        return inbox_create(
            actor=None, name="Support", provider="sandbox", credentials={}, default_team=team, **settings
        )


def test_a_new_conversation_gets_deadlines_across_a_holiday_and_a_weekend(
    alpha, in_schema, django_capture_on_commit_callbacks
):
    team = make_team(alpha, business_hours=SAO_PAULO, sla_first_response_seconds=2 * HOUR,
                     sla_resolution_seconds=18 * HOUR)
    inbox = team_inbox(alpha, team)

    # Thursday 2026-11-19 17:00 in São Paulo: one open hour left that day; Friday is a holiday.
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, inbox, at=sp(2026, 11, 19, 17, 0))

    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.team_id == team.pk
    # 1 h on Thursday, then Monday 23rd 09:00–10:00 (13:00 UTC).
    assert conversation.first_response_due_at == dt.datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    # 1 h Thursday + 9 h Monday + 8 h Tuesday 24th 09:00–17:00 (20:00 UTC).
    assert conversation.resolution_due_at == dt.datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def test_a_conversation_of_a_team_without_targets_or_of_no_team_has_no_deadlines(
    alpha, in_schema, django_capture_on_commit_callbacks
):
    no_targets = team_inbox(alpha, make_team(alpha, business_hours=SAO_PAULO))
    no_team = team_inbox(alpha, None)
    with django_capture_on_commit_callbacks(execute=True):
        ids = [receive(alpha, inbox).conversation_id for inbox in (no_targets, no_team)]
    with in_schema(alpha.schema_name):
        assert list(
            Conversation.objects.filter(pk__in=ids).values_list("first_response_due_at", "resolution_due_at")
        ) == [(None, None), (None, None)]


def test_a_transfer_to_a_team_starts_its_deadlines_and_schedules_a_check_at_each(
    alpha, in_schema, django_capture_on_commit_callbacks
):
    always_open = make_team(alpha, sla_first_response_seconds=600, sla_resolution_seconds=7200)
    conversation_id = receive(alpha, team_inbox(alpha, None)).conversation_id

    with in_schema(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        conversation_transfer(
            conversation=Conversation.objects.get(pk=conversation_id), actor=None, team=always_open
        )
    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.first_response_due_at == conversation.queued_at + dt.timedelta(seconds=600)
    assert conversation.resolution_due_at == conversation.queued_at + dt.timedelta(seconds=7200)
    checks = [task for task in HUEY.scheduled() if task.name.endswith("sla_check")
              and task.args == (alpha.schema_name, conversation_id)]
    assert sorted(task.eta for task in checks) == [
        (due + dt.timedelta(seconds=1)).astimezone(UTC).replace(tzinfo=None)
        for due in (conversation.first_response_due_at, conversation.resolution_due_at)
    ]


def _breachable(company, inbox, *, first_due_ago=None, resolution_due_ago=None) -> int:
    """A conversation of `inbox` (and its team) whose deadlines passed that long ago (seconds)."""
    conversation_id = receive(company, inbox).conversation_id
    now = timezone.now()
    with schema_context(company.schema_name):
        Conversation.objects.filter(pk=conversation_id).update(
            first_response_due_at=now - dt.timedelta(seconds=first_due_ago) if first_due_ago else None,
            resolution_due_at=now - dt.timedelta(seconds=resolution_due_ago) if resolution_due_ago else None,
        )
    return conversation_id


def test_a_breach_is_flagged_and_notified_to_the_teams_supervisors_once(alpha, in_schema):
    team = make_team(alpha, sla_first_response_seconds=60)
    supervisor, agent = make_user(alpha, role="supervisor"), make_user(alpha, role="agent")
    outsider = make_user(alpha, role="supervisor")  # of no team of this conversation
    join(alpha, team, supervisor)
    join(alpha, team, agent)
    conversation_id = _breachable(alpha, team_inbox(alpha, team), first_due_ago=5)

    with in_schema(alpha.schema_name):
        assert sla_breaches_flag(conversation_ids=[conversation_id]) == 1
        assert sla_breaches_flag(conversation_ids=[conversation_id]) == 0  # a second sweep, a minute later

        conversation = Conversation.objects.get(pk=conversation_id)
        assert conversation.sla_breached and conversation.sla_breached_at is not None
        events = list(TimelineEvent.objects.filter(conversation_id=conversation_id, kind="sla_breached"))
        assert [event.data["deadline"] for event in events] == ["first_response"]
        with translation.override("es"):  # as the timeline shows it
            assert event_text(events[0]) == "SLA incumplido: venció el plazo de primera respuesta"
        notified = Notification.objects.filter(kind="sla_breached", data__conversation_id=conversation_id)
        assert list(notified.values_list("user_id", flat=True)) == [supervisor.pk]
        assert str(conversation_id) in notified.get().title
        assert outsider.pk not in set(notified.values_list("user_id", flat=True))


def test_a_team_without_supervisors_has_its_breaches_notified_to_the_admins(alpha, in_schema):
    team = make_team(alpha, sla_resolution_seconds=60)
    conversation_id = _breachable(alpha, team_inbox(alpha, team), resolution_due_ago=5)
    with in_schema(alpha.schema_name):
        assert sla_breaches_flag(conversation_ids=[conversation_id]) == 1
        notified = Notification.objects.filter(data__conversation_id=conversation_id)
        assert set(notified.values_list("user__role", flat=True)) == {"admin"}
        event = TimelineEvent.objects.get(conversation_id=conversation_id, kind="sla_breached")
        assert event.data["deadline"] == "resolution"


def test_deadlines_met_in_time_are_not_breaches_and_a_late_answer_is(alpha, in_schema):
    team = make_team(alpha, sla_first_response_seconds=60)
    admin = make_user(alpha, role="admin")
    inbox = team_inbox(alpha, team)
    answered, closed, late, pending = (_breachable(alpha, inbox, first_due_ago=30) for _ in range(4))
    with in_schema(alpha.schema_name):
        message_send(conversation=Conversation.objects.get(pk=answered), author=admin, text="Hello!")
        # Answered (or closed) before the deadline passed.
        a_minute_ago = timezone.now() - dt.timedelta(seconds=60)
        Conversation.objects.filter(pk=answered).update(first_response_at=a_minute_ago)
        conversation_close(conversation=Conversation.objects.get(pk=closed), actor=None)
        Conversation.objects.filter(pk=closed).update(closed_at=a_minute_ago)
        message_send(conversation=Conversation.objects.get(pk=late), author=admin, text="Sorry for the wait")

        assert sla_breaches_flag(conversation_ids=[answered, closed, late, pending]) == 2
        flagged = set(Conversation.objects.filter(sla_breached=True, pk__in=[answered, closed, late, pending])
                      .values_list("pk", flat=True))
    assert flagged == {late, pending}


def test_a_deadline_not_passed_yet_is_not_a_breach(alpha, in_schema):
    team = make_team(alpha, sla_first_response_seconds=60)
    conversation_id = receive(alpha, team_inbox(alpha, team)).conversation_id
    with in_schema(alpha.schema_name):
        Conversation.objects.filter(pk=conversation_id).update(
            first_response_due_at=timezone.now() + dt.timedelta(seconds=30)
        )
        assert sla_breaches_flag(conversation_ids=[conversation_id]) == 0
        assert not Conversation.objects.get(pk=conversation_id).sla_breached


def test_the_breach_sweep_runs_every_minute_in_every_company():
    assert automation_tasks.sla_breaches_sweep in periodic._EVERY_MINUTE
    assert automation_tasks.snoozes_wake_sweep in periodic._EVERY_MINUTE
    assert automation_tasks.idle_conversations_close in periodic._EVERY_MINUTE


def test_a_conversation_resolved_in_time_and_reopened_later_gets_a_new_resolution_deadline(
    alpha, in_schema, django_capture_on_commit_callbacks
):
    team = make_team(alpha, sla_resolution_seconds=3600)
    inbox = team_inbox(alpha, team)
    phone = new_phone()
    conversation_id = receive(alpha, inbox, phone=phone).conversation_id
    with in_schema(alpha.schema_name):
        conversation_close(conversation=Conversation.objects.get(pk=conversation_id), actor=None)
        # Resolved in time, an hour and a half ago; its deadline passed an hour ago.
        now = timezone.now()
        Conversation.objects.filter(pk=conversation_id).update(
            closed_at=now - dt.timedelta(minutes=90), resolution_due_at=now - dt.timedelta(minutes=60)
        )

    with django_capture_on_commit_callbacks(execute=True):
        again = receive(alpha, inbox, phone=phone, text="It broke again")  # within the reopen window

    assert again.conversation_id == conversation_id
    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        assert conversation.status == "queued"
        assert conversation.resolution_due_at > now + dt.timedelta(minutes=59)
        assert sla_breaches_flag(conversation_ids=[conversation_id]) == 0
