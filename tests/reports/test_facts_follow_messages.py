"""A conversation's fact follows its messages: a customer's message leaves it as it was, the first
reply of a person sets the first response, later replies do not move it."""

import pytest
from django_tenants.utils import schema_context

from apps.conversations.models import Conversation
from apps.conversations.outbound import message_send
from apps.conversations.services import conversation_assign
from apps.reports.models import ConversationFact
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive

pytestmark = pytest.mark.django_db


def fact(company, conversation_id) -> ConversationFact:
    with schema_context(company.schema_name):
        return ConversationFact.objects.get(conversation_id=conversation_id)


def reply(company, conversation_id, agent, text):
    with schema_context(company.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        return message_send(conversation=conversation, author=agent, text=text)


def test_only_the_first_reply_of_a_person_sets_the_first_response(alpha, django_capture_on_commit_callbacks):
    inbox, agent, phone = make_inbox(alpha), make_user(alpha, name="Ana Agent"), new_phone()
    with django_capture_on_commit_callbacks(execute=True):
        first = receive(alpha, inbox, phone=phone, text="Hello")
    opened = fact(alpha, first.conversation_id)
    assert opened.first_response_at is None and opened.opened_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        receive(alpha, inbox, phone=phone, text="Anyone there?")
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        # Taken before answering: the reply itself then changes nothing but the messages' side.
        conversation_assign(conversation=Conversation.objects.get(pk=first.conversation_id),
                            assignee=agent, actor=None)
    taken = fact(alpha, first.conversation_id)
    assert taken.first_response_at is None and taken.agent_id == agent.pk

    with django_capture_on_commit_callbacks(execute=True):
        reply(alpha, first.conversation_id, agent, "Here I am")
    with schema_context(alpha.schema_name):
        answered_at = Conversation.objects.get(pk=first.conversation_id).first_response_at
    answered = fact(alpha, first.conversation_id)
    assert answered_at is not None and answered.first_response_at == answered_at

    with django_capture_on_commit_callbacks(execute=True):
        reply(alpha, first.conversation_id, agent, "Anything else?")
    assert fact(alpha, first.conversation_id).first_response_at == answered_at
