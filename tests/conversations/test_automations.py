"""Inbox automations: the greeting once per new conversation, the offline message once per closed
period, the daily send limit, snoozes that wake at their time, idle conversations closing by
themselves, and the reopen window."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from huey.contrib.djhuey import HUEY

from apps.conversations.automations import idle_conversations_close, offline_notice_send, snoozes_wake_due
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.outbound import DailyLimitReached, message_send
from apps.conversations.services import conversation_assign, conversation_close, conversation_snooze
from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_create
from apps.notifications.models import Notification
from tenants.models import Company
from tests.conversations.test_sla import make_team
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import new_phone, receive

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Open during odd UTC hours (01–02, 03–04 … 23–24), closed during even ones: several closed periods
# fit within the 24-hour service window, so every offline message may really be sent.
ODD_HOURS = {
    "timezone": "UTC",
    "days": {day: [[f"{hour:02d}:00", f"{hour + 1:02d}:00"] for hour in range(1, 24, 2)]
             for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


def inbox_with(company, **settings) -> Inbox:
    with schema_context(company.schema_name):
        return inbox_create(actor=None, name="Support", provider="sandbox", credentials={}, **settings)


def automatic_texts(company, conversation_id) -> list[str]:
    with schema_context(company.schema_name):
        return list(
            Message.objects.filter(conversation_id=conversation_id, direction="outbound")
            .filter(sender_type="system").order_by("pk").values_list("text", flat=True)
        )


def closed_hour_start(hours_ago: int) -> dt.datetime:
    """The start of a closed (even) UTC hour about `hours_ago` hours back."""
    start = (timezone.now() - dt.timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0)
    return start - dt.timedelta(hours=start.hour % 2)


def closed_now_hours() -> dict:
    """Hours under which now is closed: open only one minute, on another weekday than today."""
    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(timezone.now().weekday() + 3) % 7]
    return {"timezone": "UTC", "days": {other_day: [["12:00", "12:01"]]}}


# --- greeting ------------------------------------------------------------------------------------

GREETING = "Hi! Thanks for writing, we'll be right with you."
CLOSED = "We're closed; back at the top of the hour."


def test_the_greeting_goes_once_per_new_conversation(alpha, in_schema, django_capture_on_commit_callbacks):
    inbox = inbox_with(alpha, greeting_message=GREETING)
    phone = new_phone()

    with django_capture_on_commit_callbacks(execute=True):
        first = receive(alpha, inbox, phone=phone, text="Hello")
    with django_capture_on_commit_callbacks(execute=True):
        again = receive(alpha, inbox, phone=phone, text="Anyone there?")
    with django_capture_on_commit_callbacks(execute=True):
        other = receive(alpha, inbox, text="Hi, another customer")

    assert again.conversation_id == first.conversation_id
    assert automatic_texts(alpha, first.conversation_id) == [GREETING]
    assert automatic_texts(alpha, other.conversation_id) == [GREETING]
    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=first.conversation_id)
        # The company's own message neither opens the conversation nor counts as an agent's answer.
        assert conversation.status == "queued" and conversation.first_response_at is None
        assert conversation.unread_count == 2


def test_no_greeting_when_the_inbox_has_none(alpha, django_capture_on_commit_callbacks):
    inbox = inbox_with(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, inbox)
    assert automatic_texts(alpha, message.conversation_id) == []


# --- offline message -------------------------------------------------------------------------------

def test_the_offline_message_goes_once_per_closed_period(alpha, in_schema):
    team = make_team(alpha, business_hours=ODD_HOURS, offline_message=CLOSED)
    inbox = inbox_with(alpha, default_team=team)
    phone = new_phone()
    night = closed_hour_start(6)
    times = [
        night + dt.timedelta(minutes=10),  # a closed hour
        night + dt.timedelta(minutes=40),  # the same closed hour
        night + dt.timedelta(minutes=70),  # open
        night + dt.timedelta(minutes=130),  # the next closed hour
        night + dt.timedelta(minutes=150),  # still that one
    ]
    sent = []
    for at in times:
        message = receive(alpha, inbox, phone=phone, at=at)
        with in_schema(alpha.schema_name):
            Message.objects.filter(pk=message.pk).update(created_at=at)  # received then
            sent.append(offline_notice_send(message_id=message.pk) is not None)

    assert sent == [True, False, False, True, False]
    assert automatic_texts(alpha, message.conversation_id) == [CLOSED, CLOSED]
    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.offline_notice_period == (night + dt.timedelta(hours=2)).isoformat()
    assert conversation.status == "queued"


def test_messages_while_the_team_is_closed_get_one_offline_message(alpha, django_capture_on_commit_callbacks):
    team = make_team(alpha, business_hours=closed_now_hours(), offline_message="Closed now, back on Monday.")
    inbox = inbox_with(alpha, default_team=team, greeting_message="Hello!")
    phone = new_phone()

    for text in ("Hi", "Are you open?", "Hello??"):
        with django_capture_on_commit_callbacks(execute=True):
            message = receive(alpha, inbox, phone=phone, text=text)

    # The greeting first, then the offline message, once.
    assert automatic_texts(alpha, message.conversation_id) == ["Hello!", "Closed now, back on Monday."]


def test_the_inbox_away_message_stands_in_for_a_team_without_one(alpha, django_capture_on_commit_callbacks):
    team = make_team(alpha, business_hours=closed_now_hours())
    inbox = inbox_with(alpha, default_team=team, away_message="We are away.")
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, inbox)
    assert automatic_texts(alpha, message.conversation_id) == ["We are away."]


def test_no_offline_message_while_the_team_is_open_or_has_no_hours(alpha, django_capture_on_commit_callbacks):
    open_team = make_team(alpha, business_hours={"timezone": "UTC"}, offline_message="Closed.")
    no_hours = make_team(alpha, offline_message="Closed.")
    received = []
    for team in (open_team, no_hours):
        with django_capture_on_commit_callbacks(execute=True):
            received.append(receive(alpha, inbox_with(alpha, default_team=team, away_message="Away.")))
    assert [automatic_texts(alpha, message.conversation_id) for message in received] == [[], []]


# --- daily limit -----------------------------------------------------------------------------------

@pytest.fixture
def admin_client(alpha, api):
    admin = make_user(alpha, role="admin")
    return api(alpha, token=api(alpha).login(admin.email)["access"])


def test_the_daily_limit_refuses_a_send_with_429_and_queues_nothing(alpha, in_schema, admin_client):
    inbox = inbox_with(alpha, daily_limit=2)
    conversations = [receive(alpha, inbox).conversation_id for _ in range(2)]
    path = "/api/v1/conversations/{}/messages"

    assert admin_client.post(path.format(conversations[0]), {"text": "one"}).status_code == 201
    assert admin_client.post(path.format(conversations[1]), {"text": "two"}).status_code == 201
    refused = admin_client.post(path.format(conversations[1]), {"text": "three"})

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "daily_limit_reached" and error["details"][0]["field"] == "inbox_id"
    assert 0 < int(refused["Retry-After"]) <= 25 * 3600
    with in_schema(alpha.schema_name):
        assert Message.objects.filter(inbox=inbox, direction="outbound").count() == 2
        assert not Message.objects.filter(text="three").exists()


def test_the_daily_limit_counts_the_messages_since_midnight_in_the_company_time_zone(alpha, in_schema):
    inbox = inbox_with(alpha, daily_limit=2)
    conversation_id = receive(alpha, inbox).conversation_id
    with in_schema(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        zone = ZoneInfo(Company.objects.get(schema_name=alpha.schema_name).time_zone)
        midnight = dt.datetime.combine(timezone.now().astimezone(zone).date(), dt.time(0), tzinfo=zone)
        # Sent before today's first send: one just before midnight, one just after.
        for at in (midnight - dt.timedelta(seconds=1), midnight + dt.timedelta(seconds=1)):
            earlier = Message.objects.create(
                conversation=conversation, inbox=inbox, direction="outbound", sender_type="system",
                text="earlier", status="sent",
            )
            Message.objects.filter(pk=earlier.pk).update(created_at=at)

        message_send(conversation=conversation, author=None, text="today")  # the day's second
        with pytest.raises(DailyLimitReached):
            message_send(conversation=conversation, author=None, text="one too many")
        assert not Message.objects.filter(text="one too many").exists()


def test_concurrent_sends_at_the_daily_limit_never_pass_it(alpha, in_schema):
    from concurrent.futures import ThreadPoolExecutor

    from apps.conversations.outbound import _ensure_daily_limit

    inbox = inbox_with(alpha, daily_limit=5)
    now = timezone.now()
    schema = alpha.schema_name

    def take() -> bool:
        from django.db import connection

        try:
            with schema_context(schema):
                _ensure_daily_limit(inbox, now)
            return True
        except DailyLimitReached:
            return False
        finally:
            connection.close()

    with in_schema(schema):
        _ensure_daily_limit(inbox, now)  # the day's counter starts here, from the stored messages
    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(lambda _: take(), range(40)))
    assert granted.count(True) == 4


# --- snooze ------------------------------------------------------------------------------------------

def _assigned_conversation(company, inbox, agent) -> Conversation:
    conversation_id = receive(company, inbox).conversation_id
    with schema_context(company.schema_name):
        return conversation_assign(
            conversation=Conversation.objects.get(pk=conversation_id), assignee=agent, actor=None
        )


def test_a_snooze_schedules_its_wake_up_for_its_time(alpha, in_schema, django_capture_on_commit_callbacks):
    agent = make_user(alpha)
    conversation = _assigned_conversation(alpha, inbox_with(alpha), agent)
    until = timezone.now() + dt.timedelta(minutes=30)

    with in_schema(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        conversation_snooze(conversation=conversation, until=until, actor=agent)

    wake_ups = [task for task in HUEY.scheduled() if task.name.endswith("snooze_wake")
                and task.args == (alpha.schema_name, conversation.pk)]
    assert [task.eta for task in wake_ups] == [until.astimezone(UTC).replace(tzinfo=None)]


def test_a_snooze_that_ran_out_wakes_once_back_to_open_and_tells_the_assignee(alpha, in_schema):
    agent = make_user(alpha)
    conversation = _assigned_conversation(alpha, inbox_with(alpha), agent)
    with in_schema(alpha.schema_name):
        until = timezone.now() + dt.timedelta(minutes=5)
        conversation_snooze(conversation=conversation, until=until, actor=agent)
        assert Conversation.objects.get(pk=conversation.pk).status == "pending"
        ran_out = timezone.now() - dt.timedelta(seconds=1)
        Conversation.objects.filter(pk=conversation.pk).update(snoozed_until=ran_out)

        assert snoozes_wake_due() == 1
        assert snoozes_wake_due() == 0

        woken = Conversation.objects.get(pk=conversation.pk)
        assert woken.status == "open" and woken.snoozed_until is None
        assert TimelineEvent.objects.filter(conversation=woken, kind="snooze_ended").count() == 1
        notified = Notification.objects.filter(user=agent, kind="snooze_ended")
        assert notified.count() == 1 and notified.get().data == {"conversation_id": conversation.pk}


def test_a_snooze_moved_later_does_not_wake_at_the_earlier_time(alpha, in_schema):
    from apps.conversations.automations import snooze_wake

    agent = make_user(alpha)
    conversation = _assigned_conversation(alpha, inbox_with(alpha), agent)
    with in_schema(alpha.schema_name):
        until = timezone.now() + dt.timedelta(hours=2)
        conversation_snooze(conversation=conversation, until=until, actor=agent)
        # The wake-up task of an earlier snooze time runs now: nothing happens.
        assert snooze_wake(conversation_id=conversation.pk) is False
        assert Conversation.objects.get(pk=conversation.pk).status == "pending"


# --- auto-close ----------------------------------------------------------------------------------------

def test_auto_close_closes_idle_conversations_and_not_the_others(alpha, in_schema):
    inbox = inbox_with(alpha, auto_close_after_hours=2, auto_close_message="Closing; write any time.")
    no_auto_close = inbox_with(alpha)
    now = timezone.now()
    idle = receive(alpha, inbox, at=now - dt.timedelta(hours=3)).conversation_id
    recent = receive(alpha, inbox, at=now - dt.timedelta(minutes=30)).conversation_id
    snoozed = receive(alpha, inbox, at=now - dt.timedelta(hours=3)).conversation_id
    elsewhere = receive(alpha, no_auto_close, at=now - dt.timedelta(hours=3)).conversation_id
    with in_schema(alpha.schema_name):
        conversation_snooze(
            conversation=Conversation.objects.get(pk=snoozed), until=now + dt.timedelta(hours=1), actor=None
        )
        Conversation.objects.filter(pk=snoozed).update(last_message_at=now - dt.timedelta(hours=3))

        assert idle_conversations_close() == 1
        assert idle_conversations_close() == 0

        states = dict(Conversation.objects.filter(pk__in=[idle, recent, snoozed, elsewhere])
                      .values_list("pk", "status"))
        closed = Conversation.objects.get(pk=idle)
    assert states == {idle: "closed", recent: "queued", snoozed: "queued", elsewhere: "queued"}
    assert closed.close_reason == "auto_close" and closed.closed_at is not None
    assert automatic_texts(alpha, idle) == ["Closing; write any time."]
    assert automatic_texts(alpha, recent) == []


def test_an_idle_conversation_past_the_service_window_closes_without_its_message(alpha, in_schema):
    inbox = inbox_with(alpha, auto_close_after_hours=48, auto_close_message="Closing.")
    idle = receive(alpha, inbox, at=timezone.now() - dt.timedelta(hours=50)).conversation_id
    with in_schema(alpha.schema_name):
        assert idle_conversations_close() == 1
        assert Conversation.objects.get(pk=idle).status == "closed"
    assert automatic_texts(alpha, idle) == []  # WhatsApp would refuse free text after 24 h


# --- reopen window -------------------------------------------------------------------------------------

def test_an_inbound_within_the_inbox_reopen_window_reopens_and_after_it_starts_anew(alpha, in_schema):
    inbox = inbox_with(alpha, reopen_window_hours=2)
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone).conversation_id
    with in_schema(alpha.schema_name):
        conversation_close(conversation=Conversation.objects.get(pk=first), actor=None)
        Conversation.objects.filter(pk=first).update(closed_at=timezone.now() - dt.timedelta(minutes=110))
    assert receive(alpha, inbox, phone=phone, text="one more thing").conversation_id == first

    with in_schema(alpha.schema_name):
        conversation_close(conversation=Conversation.objects.get(pk=first), actor=None)
        Conversation.objects.filter(pk=first).update(closed_at=timezone.now() - dt.timedelta(minutes=130))
    later = receive(alpha, inbox, phone=phone, text="back again").conversation_id
    assert later != first
    with in_schema(alpha.schema_name):
        assert Conversation.objects.get(pk=first).status == "closed"


# --- cost ------------------------------------------------------------------------------------------------

def test_a_burst_with_nothing_set_up_costs_the_worker_a_few_queries(alpha, django_assert_max_num_queries):
    from apps.conversations.automation_tasks import automations_run

    inbox = inbox_with(alpha, default_team=make_team(alpha))  # a team, no hours, no targets, no greeting
    messages = [receive(alpha, inbox) for _ in range(20)]
    conversations = [message.conversation_id for message in messages]

    with django_assert_max_num_queries(6):  # the company's lookup, then one query per automation
        automations_run.call_local(alpha.schema_name, conversations, [], [message.pk for message in messages])
