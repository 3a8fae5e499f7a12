"""Auto-assignment: who gets a team's waiting conversations, in which order, and what triggers it."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from huey.contrib.djhuey import HUEY

from apps.accounts.services import user_deactivate, user_set_status
from apps.conversations import events, routing
from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.routing import Outcome, route_team
from apps.conversations.routing_tasks import routing_sweep
from apps.conversations.routing_triggers import TEAM_MEMBERS_CHANGED, teams_to_route
from apps.conversations.services import (
    conversation_assign,
    conversation_close,
    conversation_set_status,
    conversation_transfer,
    conversation_unassign,
)
from apps.teams.models import Team, TeamMember
from conversa import events as bus
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.fixtures.routing import (
    add_member,
    assignees,
    make_agent,
    make_team,
    routed_inbox,
    waiting_conversations,
)

pytestmark = pytest.mark.django_db


def route(company, team) -> tuple[int, Outcome]:
    with schema_context(company.schema_name):
        return route_team(team_id=team.pk)


def conversation(company, pk) -> Conversation:
    with schema_context(company.schema_name):
        return Conversation.objects.get(pk=pk)


# --- strategies -----------------------------------------------------------------------------------

def test_round_robin_hands_out_turns_in_order_and_records_them_as_routing(alpha):
    team = make_team(alpha)
    ana, bia, caio = (make_agent(alpha, team) for _ in range(3))
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 7)

    assert route(alpha, team) == (7, Outcome.QUEUE_EMPTY)

    assert assignees(alpha, ids) == [u.pk for u in (ana, bia, caio, ana, bia, caio, ana)]
    first = conversation(alpha, ids[0])
    assert first.status == Conversation.Status.OPEN and first.assigned_at is not None
    with schema_context(alpha.schema_name):
        event = TimelineEvent.objects.get(conversation_id=ids[0], kind="assigned")
    assert event.actor_id is None
    assert event.data["by"] == "routing" and event.data["assignee_id"] == ana.pk


def test_round_robin_gives_the_next_turn_to_whoever_waited_longest_since_their_last(alpha):
    team = make_team(alpha)
    ana, bia = make_agent(alpha, team), make_agent(alpha, team)
    with schema_context(alpha.schema_name):
        # Ana was given one a minute ago, Bia an hour ago.
        TeamMember.objects.filter(user=ana).update(last_assigned_at=timezone.now() - dt.timedelta(minutes=1))
        TeamMember.objects.filter(user=bia).update(last_assigned_at=timezone.now() - dt.timedelta(hours=1))
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 3)

    route(alpha, team)

    assert assignees(alpha, ids) == [bia.pk, ana.pk, bia.pk]


def test_round_robin_serves_the_highest_priority_tier_while_it_has_room(alpha):
    team = make_team(alpha)
    senior_1 = make_agent(alpha, team, priority=10, capacity=2)
    senior_2 = make_agent(alpha, team, priority=10, capacity=2)
    junior = make_agent(alpha, team, priority=0, capacity=5)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 6)

    route(alpha, team)

    assert assignees(alpha, ids) == [senior_1.pk, senior_2.pk, senior_1.pk, senior_2.pk, junior.pk, junior.pk]


def test_round_robin_stays_fair_in_a_team_larger_than_one_read_of_the_line(alpha):
    team = make_team(alpha)
    senior = make_agent(alpha, team, priority=5, capacity=3)
    juniors = [make_agent(alpha, team) for _ in range(routing.Line.SIZE + 4)]
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 3 + 2 * len(juniors))

    route(alpha, team)

    got = assignees(alpha, ids)
    assert got[:3] == [senior.pk] * 3
    assert got[3:] == [junior.pk for junior in juniors] * 2


def test_least_busy_gives_each_conversation_to_the_member_with_the_fewest_open(alpha):
    team = make_team(alpha, routing="least_busy")
    busy, idle, some = make_agent(alpha, team), make_agent(alpha, team), make_agent(alpha, team)
    other_inbox = make_inbox(alpha)
    held = [receive(alpha, other_inbox).conversation_id for _ in range(3)]
    with schema_context(alpha.schema_name):
        for pk, agent in zip(held, (busy, busy, some), strict=True):
            conversation_assign(conversation=Conversation.objects.get(pk=pk), assignee=agent, actor=None)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 4)

    route(alpha, team)

    # Loads 2/0/1: idle (→1), then the 1s: "some" never got one from routing, then idle, then the 2s.
    assert assignees(alpha, ids) == [idle.pk, some.pk, idle.pk, busy.pk]


def test_nobody_is_given_more_than_their_capacity_counting_open_and_pending_of_any_team(alpha):
    team = make_team(alpha)
    ana = make_agent(alpha, team, capacity=3)
    elsewhere = make_inbox(alpha)
    pending = receive(alpha, elsewhere).conversation_id
    with schema_context(alpha.schema_name):
        held = Conversation.objects.get(pk=pending)
        held = conversation_assign(conversation=held, assignee=ana, actor=None)
        conversation_set_status(conversation=held, status="pending", actor=None)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 4)

    assert route(alpha, team) == (2, Outcome.NO_ROOM)

    assert assignees(alpha, ids) == [ana.pk, ana.pk, None, None]
    assert conversation(alpha, ids[2]).status == Conversation.Status.QUEUED


def test_a_member_of_two_teams_is_given_no_more_than_their_capacity_in_all(alpha):
    sales, support = make_team(alpha), make_team(alpha)
    ana = make_agent(alpha, sales, capacity=3)
    add_member(alpha, support, ana, capacity=3)
    for_sales = waiting_conversations(alpha, routed_inbox(alpha, sales), 2)
    for_support = waiting_conversations(alpha, routed_inbox(alpha, support), 2)

    route(alpha, sales)
    assert route(alpha, support) == (1, Outcome.NO_ROOM)

    assert assignees(alpha, for_sales + for_support) == [ana.pk, ana.pk, ana.pk, None]


def test_only_available_active_members_of_the_team_are_given_conversations(alpha):
    team = make_team(alpha)
    admin = make_user(alpha, role="admin")
    for status in ("busy", "paused", "offline"):
        make_agent(alpha, team, status=status)
    gone = make_agent(alpha, team)
    with schema_context(alpha.schema_name):
        user_deactivate(user=gone, actor=admin)
    make_agent(alpha, None)  # available, but not a member
    member = make_agent(alpha, make_team(alpha))  # available, member of another team
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 2)

    assert route(alpha, team) == (0, Outcome.NO_ROOM)
    assert assignees(alpha, ids) == [None, None]

    ready = make_agent(alpha, team)
    route(alpha, team)
    assert assignees(alpha, ids) == [ready.pk, ready.pk]
    assert member.pk not in assignees(alpha, ids)


def test_a_manual_team_is_never_auto_assigned(alpha, django_capture_on_commit_callbacks):
    team = make_team(alpha, routing="manual")
    make_agent(alpha, team)
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, team), 2)

    assert route(alpha, team) == (0, Outcome.MANUAL)
    assert assignees(alpha, ids) == [None, None]
    with schema_context(alpha.schema_name):
        routing_sweep.call_local(alpha.schema_name)
    assert assignees(alpha, ids) == [None, None]


def test_the_queue_is_served_in_arrival_order_not_creation_order(alpha):
    team = make_team(alpha)
    inbox = routed_inbox(alpha, team)
    now = timezone.now()
    later = receive(alpha, inbox, at=now - dt.timedelta(minutes=1)).conversation_id
    earlier = receive(alpha, inbox, at=now - dt.timedelta(minutes=5)).conversation_id
    ana = make_agent(alpha, team, capacity=1)

    route(alpha, team)

    assert assignees(alpha, [earlier, later]) == [ana.pk, None]


def test_another_teams_queue_is_left_alone(alpha):
    team, other = make_team(alpha), make_team(alpha)
    make_agent(alpha, team)
    theirs = waiting_conversations(alpha, routed_inbox(alpha, other), 1)

    assert route(alpha, team) == (0, Outcome.QUEUE_EMPTY)
    assert assignees(alpha, theirs) == [None]


def test_routing_in_one_company_never_touches_another(alpha, bravo, django_capture_on_commit_callbacks):
    ours, theirs = make_team(alpha), make_team(bravo)
    make_agent(alpha, ours)
    their_agent = make_agent(bravo, theirs, status="offline")
    theirs_waiting = waiting_conversations(bravo, routed_inbox(bravo, theirs), 1)
    with schema_context(bravo.schema_name):
        user_set_status(user=their_agent, status="available")  # no trigger delivered: still waiting

    with django_capture_on_commit_callbacks(execute=True):
        waiting_conversations(alpha, routed_inbox(alpha, ours), 1)
    with schema_context(alpha.schema_name):
        routing_sweep.call_local(alpha.schema_name)

    assert assignees(bravo, theirs_waiting) == [None]


# --- triggers -------------------------------------------------------------------------------------

def test_a_customers_first_message_on_a_routed_inbox_is_assigned_at_once(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team)
    inbox = routed_inbox(alpha, team)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        received = receive(alpha, inbox, text="Hi, my order?")

    found = conversation(alpha, received.conversation_id)
    assert (found.assignee_id, found.status, found.team_id) == (ana.pk, "open", team.pk)
    assert len(callbacks) > 2  # the message's events, then the assignment's


def test_a_conversation_transferred_to_a_routed_team_is_assigned_to_one_of_its_members(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team)
    holder = make_agent(alpha, None)
    pk = receive(alpha, make_inbox(alpha)).conversation_id
    with schema_context(alpha.schema_name):
        held = conversation_assign(conversation=Conversation.objects.get(pk=pk), assignee=holder, actor=None)

        with django_capture_on_commit_callbacks(execute=True):
            conversation_transfer(conversation=held, actor=holder, team=team, reason="billing question")

    found = conversation(alpha, pk)
    assert (found.assignee_id, found.team_id, found.status) == (ana.pk, team.pk, "open")


def test_an_agent_becoming_available_picks_up_the_oldest_waiting(alpha, django_capture_on_commit_callbacks):
    team = make_team(alpha)
    ana = make_agent(alpha, team, status="offline", capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, team), 3)
    assert assignees(alpha, ids) == [None, None, None]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        user_set_status(user=ana, status="available")

    assert assignees(alpha, ids) == [ana.pk, None, None]


def test_closing_a_conversation_frees_room_and_the_next_waiting_one_is_assigned(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team, capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, team), 3)
    assert assignees(alpha, ids) == [ana.pk, None, None]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        conversation_close(conversation=Conversation.objects.get(pk=ids[0]), actor=ana)

    assert assignees(alpha, ids) == [ana.pk, ana.pk, None]
    assert conversation(alpha, ids[1]).status == Conversation.Status.OPEN


def test_a_conversation_handed_back_to_the_queue_goes_to_whoever_waited_longest(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team, capacity=1)
    bia = make_agent(alpha, team, capacity=1, status="busy")
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, team), 2)
    assert assignees(alpha, ids) == [ana.pk, None]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        user_set_status(user=bia, status="available")
        conversation_unassign(conversation=Conversation.objects.get(pk=ids[0]), actor=ana)

    # The oldest (the one Ana gave back) goes to Bia, who never had a turn; Ana takes the next.
    assert assignees(alpha, ids) == [bia.pk, ana.pk]


def test_a_conversation_given_back_never_bounces_straight_back_to_whoever_gave_it_back(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team, capacity=2)
    bia = make_agent(alpha, team, capacity=2, status="busy")
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, team), 1)
    assert assignees(alpha, ids) == [ana.pk]

    # Ana has room and is the only one available, yet the conversation she gave back waits.
    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        conversation_unassign(conversation=Conversation.objects.get(pk=ids[0]), actor=ana)
    assert assignees(alpha, ids) == [None]
    assert conversation(alpha, ids[0]).status == Conversation.Status.QUEUED

    # Work that arrives meanwhile is still hers; the given-back one goes to the next who is free.
    with django_capture_on_commit_callbacks(execute=True):
        later = waiting_conversations(alpha, routed_inbox(alpha, team), 1)
    assert assignees(alpha, ids + later) == [None, ana.pk]
    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        user_set_status(user=bia, status="available")
    assert assignees(alpha, ids) == [bia.pk]
    # Once someone holds it, nobody is passed over for it any more.
    assert conversation(alpha, ids[0]).handed_back_by_id is None


def test_a_conversation_transferred_to_a_team_goes_to_another_member_than_the_one_who_sent_it(
    alpha, django_capture_on_commit_callbacks
):
    sales, support = make_team(alpha), make_team(alpha)
    ana = make_agent(alpha, sales, capacity=3)
    add_member(alpha, support, ana)
    caio = make_agent(alpha, support, status="busy")
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, sales), 1)
    assert assignees(alpha, ids) == [ana.pk]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        conversation_transfer(conversation=Conversation.objects.get(pk=ids[0]), actor=ana, team=support)
    assert assignees(alpha, ids) == [None]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        user_set_status(user=caio, status="available")
    assert assignees(alpha, ids) == [caio.pk]


def test_transferring_a_conversation_to_a_colleague_frees_room_for_the_next_waiting(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team, capacity=1)
    bia = make_agent(alpha, None, status="busy")
    with django_capture_on_commit_callbacks(execute=True):
        ids = waiting_conversations(alpha, routed_inbox(alpha, team), 2)
    assert assignees(alpha, ids) == [ana.pk, None]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        conversation_transfer(conversation=Conversation.objects.get(pk=ids[0]), actor=ana, agent=bia)

    assert assignees(alpha, ids) == [bia.pk, ana.pk]


def test_a_conversation_reopened_into_the_queue_by_the_customer_is_assigned(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team, status="offline")
    admin = make_user(alpha, role="admin")
    inbox = routed_inbox(alpha, team)
    phone = "+5511987650001"
    pk = receive(alpha, inbox, phone=phone).conversation_id
    with schema_context(alpha.schema_name):
        conversation_close(conversation=Conversation.objects.get(pk=pk), actor=admin)
        user_set_status(user=ana, status="available")

    with django_capture_on_commit_callbacks(execute=True):
        again = receive(alpha, inbox, phone=phone, text="one more thing")

    assert again.conversation_id == pk
    assert assignees(alpha, [pk]) == [ana.pk]


def test_the_functions_for_team_settings_route_after_commit(alpha, django_capture_on_commit_callbacks):
    team = make_team(alpha)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 2)
    ana = make_agent(alpha, None)

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        add_member(alpha, team, ana, capacity=1)
        routing.route_team_after_commit(team.pk)
    assert assignees(alpha, ids) == [ana.pk, None]

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        TeamMember.objects.filter(team=team, user=ana).update(capacity=2)
        routing.route_teams_of_user_after_commit(ana.pk)
    assert assignees(alpha, ids) == [ana.pk, ana.pk]


def test_a_team_that_may_take_more_work_is_routed_when_the_teams_app_says_so(
    alpha, django_capture_on_commit_callbacks
):
    team = make_team(alpha, routing="manual")
    ana = make_agent(alpha, team)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 1)

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        # What the teams app does when a team moves to automatic routing (or gains room).
        Team.objects.filter(pk=team.pk).update(routing="round_robin")
        bus.publish(TEAM_MEMBERS_CHANGED, {"team_id": team.pk})

    assert assignees(alpha, ids) == [ana.pk]


def test_the_minute_sweep_assigns_what_no_trigger_did(alpha):
    team = make_team(alpha)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 2)  # events never delivered
    ana = make_agent(alpha, team)

    with schema_context(alpha.schema_name):
        assert routing_sweep.call_local(alpha.schema_name) == 2

    assert assignees(alpha, ids) == [ana.pk, ana.pk]


@pytest.fixture
def published():
    seen = []
    bus.subscribe_batch(seen.extend)
    yield seen
    bus._batch_subscribers.remove(seen.extend)


def test_routings_assignment_publishes_the_assignment_like_a_persons(
    alpha, published, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    make_agent(alpha, team)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 1)

    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        route_team(team_id=team.pk)

    names = [(event.name, event.data) for event in published]
    assert (events.CONVERSATION_ASSIGNED, {"conversation_id": ids[0], "previous_assignee_id": None}) in names
    opened = {"conversation_id": ids[0], "from": "queued", "to": "open"}
    assert (events.CONVERSATION_STATUS_CHANGED, opened) in names


def test_unassigning_puts_the_conversation_back_in_the_queue_and_publishes_the_status_change(
    alpha, published, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    ana = make_agent(alpha, team)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 1)
    with schema_context(alpha.schema_name):
        route_team(team_id=team.pk)
        with django_capture_on_commit_callbacks(execute=True):
            conversation_unassign(conversation=Conversation.objects.get(pk=ids[0]), actor=ana)

    names = [(event.name, event.data) for event in published]
    queued = {"conversation_id": ids[0], "from": "open", "to": "queued"}
    assert (events.CONVERSATION_STATUS_CHANGED, queued) in names

# --- coalescing -----------------------------------------------------------------------------------

def test_a_burst_of_triggers_queues_one_routing_task_per_team_and_none_is_lost(alpha, queue_to_redis):
    team = make_team(alpha)
    routing.forget_pending(alpha.schema_name, team.pk)

    for _ in range(5):
        routing.queue_route(alpha.schema_name, team.pk)
    assert HUEY.pending_count() == 1

    # The task drops the mark as it starts: a trigger from then on queues another run.
    routing.forget_pending(alpha.schema_name, team.pk)
    routing.queue_route(alpha.schema_name, team.pk)
    assert HUEY.pending_count() == 2
    routing.forget_pending(alpha.schema_name, team.pk)


# --- cost -----------------------------------------------------------------------------------------

def test_each_further_assignment_of_a_run_costs_the_same_few_queries(alpha, django_assert_num_queries):
    team = make_team(alpha)
    for _ in range(3):
        make_agent(alpha, team)
    waiting_conversations(alpha, routed_inbox(alpha, team), 6)
    with schema_context(alpha.schema_name), django_assert_num_queries(29):
        assert route_team(team_id=team.pk, limit=2) == (2, Outcome.ASSIGNED)
    # One more assignment costs 13 more queries, and nothing else: the line is read once per run.
    with schema_context(alpha.schema_name), django_assert_num_queries(29 + 13):
        assert route_team(team_id=team.pk, limit=3) == (3, Outcome.ASSIGNED)
    # The run that empties the queue stops without locking anyone else.
    with schema_context(alpha.schema_name), django_assert_num_queries(16):
        assert route_team(team_id=team.pk) == (1, Outcome.QUEUE_EMPTY)


def test_routings_own_assignments_cost_its_trigger_no_query(alpha, django_assert_num_queries):
    team = make_team(alpha)
    make_agent(alpha, team)
    ids = waiting_conversations(alpha, routed_inbox(alpha, team), 1)
    with schema_context(alpha.schema_name):
        route_team(team_id=team.pk)

    assigned = [bus.Event(name, alpha.schema_name, data) for name, data in (
        (events.CONVERSATION_STATUS_CHANGED, {"conversation_id": ids[0], "from": "queued", "to": "open"}),
        (events.CONVERSATION_ASSIGNED, {"conversation_id": ids[0], "previous_assignee_id": None}),
    )]
    with schema_context(alpha.schema_name), django_assert_num_queries(0):
        assert teams_to_route(assigned) == set()
