"""Fixtures of the flow tests: a company's people and API clients, a sandbox inbox, sample graphs."""

import copy

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.flows import services
from apps.flows.in_use import in_use_key
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox

MENU_GRAPH = {
    "start": "welcome",
    "nodes": {
        "welcome": {"type": "message", "text": "Hi {{contact.first_name}}! This is Acme.", "next": "menu"},
        "menu": {
            "type": "menu",
            "text": "What do you need?",
            "variable": "topic",
            "attempts": 2,
            "invalid_text": "Please answer with a number.",
            "options": [{"label": "Sales", "next": "ask_email"}, {"label": "Support", "next": "to_people"}],
        },
        "ask_email": {
            "type": "question",
            "text": "Your email, please?",
            "variable": "email",
            "validation": {"type": "email"},
            "save_to": "email",
            "invalid_text": "That is not an email.",
            "next": "thanks",
        },
        "thanks": {"type": "end", "text": "Thanks! We will write to {{email}} about {{topic}}."},
        "to_people": {"type": "handoff", "text": "Passing you to a person."},
    },
}


def menu_graph() -> dict:
    return copy.deepcopy(MENU_GRAPH)


@pytest.fixture(autouse=True)
def forget_flows_in_use(companies):
    """A test's flows are rolled back, the Redis mark that alpha or bravo uses flows is not: drop it,
    so later tests (the drain's query counts) see companies without flows again."""
    yield
    from conversa.redis import get_redis

    get_redis().delete(*(in_use_key(company.schema_name) for company in companies.values()))


@pytest.fixture
def desk(alpha, api):
    people = {
        "admin": make_user(alpha, role="admin", name="Alice Admin"),
        "supervisor": make_user(alpha, role="supervisor", name="Sara Supervisor"),
        "agent": make_user(alpha, name="Ana Agent"),
    }
    clients = {
        role: api(alpha, token=api(alpha).login(user.email)["access"]) for role, user in people.items()
    }
    return {"people": people, "api": clients, "inbox": make_inbox(alpha, name="Bot line")}


def make_flow(company, *, graph=None, trigger=None, publish=True, name="Welcome bot", **fields):
    """A flow (published by default), made by the system."""
    with schema_context(company.schema_name):
        flow = services.flow_create(
            actor=None,
            name=name,
            trigger=trigger or {"type": "manual"},
            graph=graph or menu_graph(),
            **fields,
        )
        if publish:
            services.flow_publish(actor=None, flow=flow)
            flow.refresh_from_db()
        connection.set_schema_to_public()
        return flow


def play(api, company, inbox, phone: str, text: str, name: str = "Maria Lopez"):
    """A customer writes through the sandbox hook (as the sandbox page does)."""
    response = api(company).post(
        f"/hooks/sandbox/{inbox.pk}",
        {"from": phone, "name": name, "text": text},
        headers={"X-Sandbox-Token": inbox.sandbox_token},
    )
    assert response.status_code == 202, response.content
    return response
