"""What a bot step costs the drain: its statements are pinned, so a query added per step (or per
reply) fails here. Lower the numbers when a change saves one; never raise them to let one in."""

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.conversations.inbound_bulk import messages_receive
from apps.conversations.models import Conversation, Message
from apps.flows import runner
from apps.flows.models import Flow, FlowSession
from tests.fixtures.messaging import inbound, new_phone
from tests.flows.conftest import make_flow

pytestmark = pytest.mark.django_db

GREETING = ["Hi Maria! This is Acme.", "What do you need?\n1. Sales\n2. Support"]


def _customers_write(company, inbox, phones: list[str], text: str) -> list[int]:
    """Their messages stored as the drain stores them, nothing dispatched (the test's transaction
    never commits): no listener has seen them yet. Returns their conversations' ids."""
    with schema_context(company.schema_name):
        messages_receive([(inbox, inbound(phone=phone, text=text, name="Maria Lopez")) for phone in phones])
        return [
            Conversation.objects.get(contact__phone=phone, inbox=inbox).pk for phone in phones
        ]


def _bot_lines(conversation_id: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, sender_type="bot")
        .order_by("pk")
        .values_list("text", flat=True)
    )


@pytest.fixture
def flow(alpha, desk) -> Flow:
    return make_flow(alpha, trigger={"type": "new_conversation", "inbox_id": desk["inbox"].pk})


def test_a_first_step_writes_its_greeting_and_menu_in_a_fixed_number_of_statements(
    alpha, desk, flow, django_assert_num_queries
):
    conversation_id = _customers_write(alpha, desk["inbox"], [new_phone()], "Hi")[0]
    with schema_context(alpha.schema_name):
        runner.session_claim(flow=flow, conversation=Conversation.objects.get(pk=conversation_id),
                             trigger="new_conversation")
        connection.cursor().close()  # the schema's SET search_path, outside the count

        # Savepoint; lock the contact, the conversation, the session (with its version, contact and
        # inbox); no answer waiting; the plan's limit; both replies in one insert; the conversation's
        # last message and the flow's state in one update; the nodes visited; the session; release.
        with django_assert_num_queries(11):
            session = runner.session_step(conversation_id=conversation_id)

        assert (session.node, session.waiting) == ("menu", "input")
        assert _bot_lines(conversation_id) == GREETING
        conversation = Conversation.objects.get(pk=conversation_id)
        assert conversation.bot_context["node"] == "menu"
        assert conversation.last_message_preview.startswith("What do you need?")


def test_an_answer_is_stepped_in_a_fixed_number_of_statements_within_its_company(
    alpha, bravo, desk, flow, django_assert_num_queries
):
    inbox, phone = desk["inbox"], new_phone()
    conversation_id = _customers_write(alpha, inbox, [phone], "Hi")[0]
    with schema_context(alpha.schema_name):
        runner.session_start(flow=flow, conversation=Conversation.objects.get(pk=conversation_id),
                             trigger="new_conversation")
    _customers_write(alpha, inbox, [phone], "1")
    with schema_context(bravo.schema_name):
        bravo_before = (Message.objects.count(), FlowSession.objects.count())

    with schema_context(alpha.schema_name):
        connection.cursor().close()
        # Savepoint; the three locks; the answer; the plan's limit; the question; the conversation;
        # the nodes visited; the session; release.
        with django_assert_num_queries(11):
            session = runner.session_step(conversation_id=conversation_id)

        assert (session.node, session.waiting) == ("ask_email", "input")
        assert session.variables == {"topic": "Sales"}
        assert _bot_lines(conversation_id) == [*GREETING, "Your email, please?"]
    with schema_context(bravo.schema_name):
        assert (Message.objects.count(), FlowSession.objects.count()) == bravo_before
