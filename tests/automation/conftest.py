"""Fixtures of the automation tests: a company's people with API clients, a sandbox inbox, and
helpers to make rules and read a conversation back."""

import pytest
from django_tenants.utils import schema_context

from apps.automation import services
from apps.conversations.models import Conversation, Message
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox


@pytest.fixture
def desk(alpha, api):
    people = {
        "admin": make_user(alpha, role="admin", name="Alice Admin"),
        "supervisor": make_user(alpha, role="supervisor", name="Sara Supervisor"),
        "agent": make_user(alpha, name="Ana Agent"),
    }
    return {"people": people, "api": SignedIn(alpha, api, people), "inbox": make_inbox(alpha)}


class SignedIn(dict):
    """API clients by role, each signed in when a test first asks for it (a login costs a request)."""

    def __init__(self, company, api, people):
        super().__init__()
        self.company, self.make, self.people = company, api, people

    def __missing__(self, role):
        token = self.make(self.company).login(self.people[role].email)["access"]
        client = self.make(self.company, token=token)
        self[role] = client
        return client


def make_rule(company, *, actor, event="message.created", conditions=(), actions, **fields):
    with schema_context(company.schema_name):
        return services.rule_create(actor=actor, values={
            "name": fields.pop("name", "Rule"), "event": event, "conditions": list(conditions),
            "actions": list(actions), **fields})


def fresh(company, conversation_id) -> Conversation:
    with schema_context(company.schema_name):
        return Conversation.objects.get(pk=conversation_id)


def outbound_texts(company, conversation_id) -> list[str]:
    with schema_context(company.schema_name):
        return list(Message.objects.filter(conversation_id=conversation_id, direction="outbound")
                    .order_by("pk").values_list("text", flat=True))
