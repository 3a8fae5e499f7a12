"""The flows API: create with validation naming the node, publish versions, simulate, roles, isolation."""

import pytest

from tests.flows.conftest import make_flow, menu_graph

pytestmark = pytest.mark.django_db

FLOWS = "/api/v1/flows"


def test_a_supervisor_creates_publishes_and_simulates_a_menu_flow(desk):
    supervisor = desk["api"]["supervisor"]
    created = supervisor.post(FLOWS, {"name": "Night desk", "trigger": {"type": "manual"}, "graph": menu_graph()})
    assert created.status_code == 201, created.content
    flow = created.json()
    assert (flow["published_version"], flow["trigger"]["type"]) == (None, "manual")

    published = supervisor.post(f"{FLOWS}/{flow['id']}/publish")
    assert published.status_code == 201
    assert published.json()["number"] == 1

    simulated = supervisor.post(f"{FLOWS}/{flow['id']}/simulate",
                                {"inputs": ["7", "sales", "maria@example.com"], "contact": {"name": "Maria Lopez"}})
    assert simulated.status_code == 200, simulated.content
    body = simulated.json()
    assert body["transcript"] == [
        {"from": "bot", "text": "Hi Maria! This is Acme."},
        {"from": "bot", "text": "What do you need?\n1. Sales\n2. Support"},
        {"from": "contact", "text": "7"},
        {"from": "bot", "text": "Please answer with a number.\nWhat do you need?\n1. Sales\n2. Support"},
        {"from": "contact", "text": "sales"},
        {"from": "bot", "text": "Your email, please?"},
        {"from": "contact", "text": "maria@example.com"},
        {"from": "bot", "text": "Thanks! We will write to maria@example.com about Sales."},
    ]
    assert body["variables"] == {"topic": "Sales", "email": "maria@example.com"}
    assert body["ended_by"] == "end"
