"""Flows live in conversations: customers play them through the sandbox hook, in the same drain
that stores their messages; versions, takeover, handoff, delays, timeouts and keywords."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations.inbound_bulk import messages_receive
from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_assign
from apps.flows import listeners, runner
from apps.flows.models import FlowSession
from apps.teams.models import Team
from conversa.events import delivered_together
from tests.fixtures.messaging import inbound, make_inbox, new_phone
from tests.flows.conftest import make_flow, menu_graph, play

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(django_capture_on_commit_callbacks):
    """Run what commits schedule (drain, listeners, deliveries) as a real commit would."""

    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    return run


def bot_lines(company, phone) -> list[str]:
    with schema_context(company.schema_name):
        return list(
            Message.objects.filter(conversation__contact__phone=phone, sender_type="bot")
            .order_by("pk")
            .values_list("text", flat=True)
        )


def session_of(company, phone) -> FlowSession:
    with schema_context(company.schema_name):
        return (
            FlowSession.objects.select_related("conversation", "version")
            .filter(conversation__contact__phone=phone)
            .latest("pk")
        )


def test_a_menu_flow_played_in_the_sandbox_says_what_simulate_says(desk, alpha, live, api):
    inbox = desk["inbox"]
    flow = make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone, inputs = new_phone(), ["7", "Sales", "not an email", "maria@example.com"]
    simulated = (
        desk["api"]["agent"]
        .post(f"/api/v1/flows/{flow.pk}/simulate", {"inputs": inputs, "contact": {"name": "Maria Lopez"}})
        .json()
    )

    for text in ["Hello!", *inputs]:
        live(play, api, alpha, inbox, phone, text)

    assert bot_lines(alpha, phone) == [
        line["text"] for line in simulated["transcript"] if line["from"] == "bot"
    ]
    session = session_of(alpha, phone)
    assert (session.status, session.ended_reason, session.variables) == (
        "completed",
        "end",
        {"topic": "Sales", "email": "maria@example.com"},
    )
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=session.conversation_id)
        assert conversation.status == "closed"  # the bot did its job
        assert conversation.bot_context["variables"] == simulated["variables"]
        assert Contact.objects.get(phone=phone).email == "maria@example.com"
        sent = Message.objects.filter(conversation=conversation, sender_type="bot")
        assert set(sent.values_list("status", flat=True)) == {"sent"}  # delivered by the sandbox
    outbox = desk["api"]["admin"].get(f"/api/v1/inboxes/{inbox.pk}/sandbox/outbox?limit=100").json()["items"]
    assert [item["text"] for item in reversed(outbox)] == bot_lines(alpha, phone)


def test_sessions_running_when_a_new_version_is_published_finish_on_theirs(desk, alpha, live, api):
    inbox = desk["inbox"]
    flow = make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    early = new_phone()
    live(play, api, alpha, inbox, early, "Hi")
    graph = menu_graph()
    graph["nodes"]["ask_email"]["text"] = "Which email shall we use?"
    admin = desk["api"]["admin"]
    assert admin.patch(f"/api/v1/flows/{flow.pk}", {"graph": graph}).status_code == 200
    assert admin.post(f"/api/v1/flows/{flow.pk}/publish").json()["number"] == 2

    late = new_phone()
    for phone in (early, late):
        live(play, api, alpha, inbox, phone, "Hi" if phone == late else "1")
    live(play, api, alpha, inbox, late, "1")

    assert bot_lines(alpha, early)[-1] == "Your email, please?"
    assert bot_lines(alpha, late)[-1] == "Which email shall we use?"
    assert (session_of(alpha, early).version.number, session_of(alpha, late).version.number) == (1, 2)


def test_an_agent_taking_the_conversation_ends_the_session(desk, alpha, live, api):
    inbox = desk["inbox"]
    make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone = new_phone()
    live(play, api, alpha, inbox, phone, "Hi")
    session = session_of(alpha, phone)
    assert session.conversation.status == "bot"

    with schema_context(alpha.schema_name):
        live(
            conversation_assign,
            conversation=session.conversation,
            assignee=desk["people"]["agent"],
            actor=desk["people"]["agent"],
        )
    live(play, api, alpha, inbox, phone, "1")

    session = session_of(alpha, phone)
    assert (session.status, session.ended_reason) == ("handed_off", "agent")
    assert session.conversation.status == "open"
    assert len(bot_lines(alpha, phone)) == 2  # nothing more from the bot after the agent took it


def test_an_agent_reply_in_a_bot_conversation_stops_the_bot(desk, alpha, live, api):
    inbox = desk["inbox"]
    make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone = new_phone()
    live(play, api, alpha, inbox, phone, "Hi")
    conversation_id = session_of(alpha, phone).conversation_id

    reply = live(
        desk["api"]["agent"].post,
        f"/api/v1/conversations/{conversation_id}/messages",
        {"text": "Hi, Ana here. How can I help?"},
    )
    live(play, api, alpha, inbox, phone, "2")

    assert reply.status_code == 201, reply.content
    assert session_of(alpha, phone).status == "handed_off"
    assert len(bot_lines(alpha, phone)) == 2


def test_a_handoff_queues_the_conversation_for_the_team(desk, alpha, live, api):
    with schema_context(alpha.schema_name):
        team = Team.objects.create(name="Support squad")
    graph = menu_graph()
    graph["nodes"]["to_people"]["team_id"] = team.pk
    inbox = desk["inbox"]
    make_flow(alpha, graph=graph, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone = new_phone()

    for text in ("Hi", "support"):
        live(play, api, alpha, inbox, phone, text)

    session = session_of(alpha, phone)
    assert (session.status, session.node) == ("handed_off", "to_people")
    assert (session.conversation.status, session.conversation.team_id) == ("queued", team.pk)
    assert bot_lines(alpha, phone)[-1] == "Passing you to a person."


def test_a_keyword_starts_its_flow_in_a_waiting_conversation(desk, alpha, live, api):
    inbox = desk["inbox"]
    make_flow(alpha, trigger={"type": "keyword", "keywords": ["menu"]})
    phone = new_phone()

    live(play, api, alpha, inbox, phone, "Good morning")
    assert bot_lines(alpha, phone) == []
    live(play, api, alpha, inbox, phone, "Menu, please")

    assert bot_lines(alpha, phone) == ["Hi Maria! This is Acme.", "What do you need?\n1. Sales\n2. Support"]
    assert session_of(alpha, phone).trigger == "keyword"


def test_invalid_answers_use_up_the_attempts_and_leave_it_to_the_agents(desk, alpha, live, api):
    inbox = desk["inbox"]
    make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone = new_phone()

    for text in ("Hi", "what?", "hmm"):
        live(play, api, alpha, inbox, phone, text)

    session = session_of(alpha, phone)
    assert (session.status, session.ended_reason, session.node) == ("dropped", "attempts", "menu")
    assert session.conversation.status == "queued"
    stats = desk["api"]["supervisor"].get(f"/api/v1/flows/{session.flow_id}/stats").json()
    assert stats["drop_offs"] == 1
    assert stats["nodes"]["menu"] == {"visits": 1, "exits": 1, "drop_offs": 1}
    assert stats["nodes"]["welcome"]["visits"] == 1


def test_a_delay_resumes_when_its_time_comes(desk, alpha, live, api):
    graph = {
        "start": "hello",
        "nodes": {
            "hello": {"type": "message", "text": "One moment…", "next": "wait"},
            "wait": {"type": "delay", "seconds": 90, "next": "bye"},
            "bye": {"type": "end", "text": "Thanks for waiting."},
        },
    }
    inbox = desk["inbox"]
    make_flow(alpha, graph=graph, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone = new_phone()
    live(play, api, alpha, inbox, phone, "Hi")
    session = session_of(alpha, phone)
    assert (session.waiting, bot_lines(alpha, phone)) == ("delay", ["One moment…"])

    with schema_context(alpha.schema_name):
        assert live(runner.session_resume, session_id=session.pk) == "early"
        later = timezone.now() + dt.timedelta(seconds=91)
        assert live(runner.session_resume, session_id=session.pk, now=later) == "resumed"

    assert bot_lines(alpha, phone) == ["One moment…", "Thanks for waiting."]
    assert session_of(alpha, phone).status == "completed"


def test_an_unanswered_question_times_out_to_the_queue(desk, alpha, live, api):
    inbox = desk["inbox"]
    make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk}, timeout_minutes=30)
    phone = new_phone()
    live(play, api, alpha, inbox, phone, "Hi")

    with schema_context(alpha.schema_name):
        assert live(runner.sessions_time_out, now=timezone.now() + dt.timedelta(minutes=29)) == 0
        assert live(runner.sessions_time_out, now=timezone.now() + dt.timedelta(minutes=31)) == 1

    session = session_of(alpha, phone)
    assert (session.status, session.conversation.status) == ("timed_out", "queued")


def test_an_agent_starts_a_flow_by_hand(desk, alpha, live, api):
    inbox = desk["inbox"]
    flow = make_flow(alpha)
    phone = new_phone()
    live(play, api, alpha, inbox, phone, "Hi")
    with schema_context(alpha.schema_name):
        conversation_id = Conversation.objects.get(contact__phone=phone).pk
    agent = desk["api"]["agent"]

    started = live(agent.post, f"/api/v1/flows/{flow.pk}/start", {"conversation_id": conversation_id})
    again = agent.post(f"/api/v1/flows/{flow.pk}/start", {"conversation_id": conversation_id})

    assert started.status_code == 201, started.content
    assert (started.json()["status"], started.json()["node"]) == ("running", "menu")
    assert again.status_code == 409
    assert bot_lines(alpha, phone) == ["Hi Maria! This is Acme.", "What do you need?\n1. Sales\n2. Support"]


def test_a_flow_of_one_company_never_runs_on_another_companys_inbox(desk, alpha, bravo, live, api):
    make_flow(alpha, trigger={"type": "new_conversation"})  # every inbox of alpha
    bravo_inbox = make_inbox(bravo, name="Bravo line")
    phone = new_phone()

    live(play, api, bravo, bravo_inbox, phone, "Hi")

    with schema_context(bravo.schema_name):
        assert not Message.objects.filter(sender_type="bot").exists()
        assert Conversation.objects.get(contact__phone=phone).status == "queued"
    with schema_context(alpha.schema_name):
        assert not FlowSession.objects.filter(conversation__contact__phone=phone).exists()


def test_bravo_cannot_start_alphas_flow_in_its_conversation(desk, alpha, bravo, live, api):
    flow = make_flow(alpha)
    bravo_inbox = make_inbox(bravo, name="Bravo line")
    phone = new_phone()
    live(play, api, bravo, bravo_inbox, phone, "Hi")
    with schema_context(bravo.schema_name):
        conversation_id = Conversation.objects.get(contact__phone=phone).pk
    bravo_admin = api(bravo, token=api(bravo).login("admin@bravo.example.com")["access"])

    response = bravo_admin.post(f"/api/v1/flows/{flow.pk}/start", {"conversation_id": conversation_id})

    assert response.status_code == 404


def test_a_burst_of_new_conversations_is_answered_by_parallel_steps(
    desk, alpha, django_capture_on_commit_callbacks
):
    """More conversations in one drain batch than are stepped inline: the rest go to workers, a few
    per task."""
    inbox = desk["inbox"]
    make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phones = [new_phone() for _ in range(listeners.INLINE_STEPS + 2)]

    with schema_context(alpha.schema_name), delivered_together():
        with django_capture_on_commit_callbacks(execute=True):
            messages_receive(
                [(inbox, inbound(phone=phone, text="Hi", name="Maria Lopez")) for phone in phones]
            )

    for phone in phones:
        assert bot_lines(alpha, phone) == [
            "Hi Maria! This is Acme.",
            "What do you need?\n1. Sales\n2. Support",
        ]
        assert session_of(alpha, phone).conversation.status == "bot"
