"""The flows API: create with validation naming the node, publish versions, simulate, roles, isolation."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.flows.reports import flows_report
from apps.flows.runner import session_start, session_take_inbound
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.flows.conftest import make_flow, menu_graph

pytestmark = pytest.mark.django_db

FLOWS = "/api/v1/flows"


def test_a_supervisor_creates_publishes_and_simulates_a_menu_flow(desk):
    supervisor = desk["api"]["supervisor"]
    created = supervisor.post(
        FLOWS, {"name": "Night desk", "trigger": {"type": "manual"}, "graph": menu_graph()}
    )
    assert created.status_code == 201, created.content
    flow = created.json()
    assert (flow["published_version"], flow["trigger"]["type"]) == (None, "manual")

    published = supervisor.post(f"{FLOWS}/{flow['id']}/publish")
    assert published.status_code == 201
    assert published.json()["number"] == 1

    simulated = supervisor.post(
        f"{FLOWS}/{flow['id']}/simulate",
        {"inputs": ["7", "sales", "maria@example.com"], "contact": {"name": "Maria Lopez"}},
    )
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


def _details(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.content
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    return [(detail.get("node"), detail["field"]) for detail in body["details"]]


@pytest.mark.parametrize(
    ("change", "node", "field"),
    [
        (lambda g: g["nodes"]["menu"].update(type="carousel"), "menu", "graph.nodes.menu.type"),
        (lambda g: g["nodes"]["ask_email"].update(next="nowhere"), "ask_email", "graph.nodes.ask_email.next"),
        (
            lambda g: g["nodes"].update(orphan={"type": "message", "text": "Lost", "next": "thanks"}),
            "orphan",
            "graph.nodes.orphan",
        ),
        (lambda g: g["nodes"]["welcome"].update(text="Hi {{email}}"), "welcome", "graph.nodes.welcome"),
        (
            lambda g: g["nodes"].update(
                spin={
                    "type": "set",
                    "assign": [{"target": "variable", "name": "n", "value": "1"}],
                    "next": "spin_back",
                },
                spin_back={"type": "message", "text": "again", "next": "spin"},
                thanks={"type": "message", "text": "Thanks", "next": "spin"},
            ),
            "spin",
            "graph.nodes.spin.next",
        ),
    ],
)
def test_a_graph_with_a_problem_is_refused_naming_its_node(desk, change, node, field):
    graph = menu_graph()
    change(graph)

    response = desk["api"]["supervisor"].post(
        FLOWS, {"name": "Broken", "trigger": {"type": "manual"}, "graph": graph}
    )

    assert (node, field) in _details(response)
    assert node in response.json()["error"]["details"][0]["message"]
    assert desk["api"]["supervisor"].get(FLOWS).json()["items"] == []


def test_a_variable_set_on_only_one_branch_is_missing_on_the_other(desk):
    graph = menu_graph()
    graph["nodes"]["to_people"]["text"] = "Passing you on, {{email}}."  # email is asked only on "Sales"

    response = desk["api"]["supervisor"].post(
        FLOWS, {"name": "x", "trigger": {"type": "manual"}, "graph": graph}
    )

    assert _details(response) == [("to_people", "graph.nodes.to_people")]


def test_a_bad_patch_changes_nothing(desk, alpha):
    flow = make_flow(alpha, publish=False)
    broken = menu_graph()
    broken["nodes"]["menu"]["options"] = []

    response = desk["api"]["admin"].patch(f"{FLOWS}/{flow.pk}", {"name": "Renamed", "graph": broken})

    assert ("menu", "graph.nodes.menu.options") in _details(response)
    assert desk["api"]["admin"].get(f"{FLOWS}/{flow.pk}").json()["name"] == "Welcome bot"


def test_publishing_freezes_versions_and_an_unchanged_draft_is_the_same_version(desk, alpha):
    admin = desk["api"]["admin"]
    flow = make_flow(alpha, publish=False)
    assert admin.post(f"{FLOWS}/{flow.pk}/publish").json()["number"] == 1
    assert admin.post(f"{FLOWS}/{flow.pk}/publish").json()["number"] == 1
    graph = menu_graph()
    graph["nodes"]["welcome"]["text"] = "Hello again!"
    assert admin.patch(f"{FLOWS}/{flow.pk}", {"graph": graph}).status_code == 200

    assert admin.get(f"{FLOWS}/{flow.pk}").json()["published_version"] == 1  # the draft is not live yet
    assert admin.post(f"{FLOWS}/{flow.pk}/publish").json()["number"] == 2
    versions = admin.get(f"{FLOWS}/{flow.pk}/versions").json()["items"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[1]["graph"]["nodes"]["welcome"]["text"] == "Hi {{contact.first_name}}! This is Acme."


def test_agents_read_and_simulate_but_cannot_manage(desk, alpha):
    agent = desk["api"]["agent"]
    flow = make_flow(alpha)

    assert [item["id"] for item in agent.get(FLOWS).json()["items"]] == [flow.pk]
    assert agent.post(f"{FLOWS}/{flow.pk}/simulate", {"inputs": ["2"]}).json()["ended_by"] == "handoff"
    refused = [
        agent.post(FLOWS, {"name": "Mine", "trigger": {"type": "manual"}, "graph": menu_graph()}),
        agent.patch(f"{FLOWS}/{flow.pk}", {"name": "Mine"}),
        agent.post(f"{FLOWS}/{flow.pk}/publish"),
        agent.delete(f"{FLOWS}/{flow.pk}"),
    ]
    assert [response.status_code for response in refused] == [403, 403, 403, 403]
    assert desk["api"]["admin"].get(f"{FLOWS}/{flow.pk}").json()["name"] == "Welcome bot"


def test_another_companys_flows_are_not_found(desk, alpha, bravo, api):
    flow = make_flow(alpha)
    bravo_admin = api(bravo, token=api(bravo).login("admin@bravo.example.com")["access"])

    responses = [
        bravo_admin.get(f"{FLOWS}/{flow.pk}"),
        bravo_admin.post(f"{FLOWS}/{flow.pk}/simulate", {"inputs": []}),
        bravo_admin.post(f"{FLOWS}/{flow.pk}/publish"),
        bravo_admin.patch(f"{FLOWS}/{flow.pk}", {"name": "Stolen"}),
        bravo_admin.delete(f"{FLOWS}/{flow.pk}"),
        bravo_admin.get(f"{FLOWS}/{flow.pk}/stats"),
    ]

    assert [response.status_code for response in responses] == [404] * 6
    assert flow.pk not in [item["id"] for item in bravo_admin.get(FLOWS).json()["items"]]
    assert desk["api"]["admin"].get(f"{FLOWS}/{flow.pk}").json()["name"] == "Welcome bot"


def test_a_plan_without_flows_refuses_the_api(make_company, api):
    company = make_company(plan="free")
    admin = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])

    response = admin.get(FLOWS)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_not_in_plan"


def test_a_trigger_with_an_unknown_inbox_or_no_keywords_is_422(desk):
    supervisor = desk["api"]["supervisor"]
    no_inbox = supervisor.post(
        FLOWS,
        {"name": "x", "trigger": {"type": "new_conversation", "inbox_id": 999999}, "graph": menu_graph()},
    )
    no_words = supervisor.post(FLOWS, {"name": "x", "trigger": {"type": "keyword"}, "graph": menu_graph()})

    assert [d["field"] for d in no_inbox.json()["error"]["details"]] == ["trigger.inbox_id"]
    assert [d["field"] for d in no_words.json()["error"]["details"]] == ["trigger.keywords"]


def test_validation_speaks_the_callers_language_and_still_names_the_node(desk):
    graph = menu_graph()
    graph["nodes"]["ask_email"]["next"] = "nowhere"

    response = desk["api"]["supervisor"].post(
        FLOWS, {"name": "x", "trigger": {"type": "manual"}, "graph": graph}, headers={"Accept-Language": "es"}
    )

    [detail] = response.json()["error"]["details"]
    assert detail["message"] == "Nodo «ask_email»: Lleva a «nowhere», que no es un nodo."


def test_the_flows_report_counts_sessions_of_the_period_by_outcome(desk, alpha):
    flow = make_flow(alpha)
    idle = make_flow(alpha, name="Idle bot")
    with schema_context(alpha.schema_name):
        inbox = make_inbox(alpha, name="Report line")
        for answers in (["2"], ["1", "a@b.co"], []):
            conversation = receive(alpha, inbox).conversation
            session_start(flow=flow, conversation=conversation, trigger="manual")
            for text in answers:
                receive(alpha, inbox, phone=conversation.contact.phone, text=text)
                session_take_inbound(conversation_id=conversation.pk)
        now = timezone.now()
        rows = flows_report(
            actor=desk["people"]["supervisor"],
            date_from=now - dt.timedelta(hours=1),
            date_to=now + dt.timedelta(minutes=1),
        )
        later = flows_report(
            actor=desk["people"]["agent"],
            date_from=now + dt.timedelta(minutes=1),
            date_to=now + dt.timedelta(hours=1),
        )

    by_flow = {row["flow_id"]: row for row in rows}
    assert {key: by_flow[flow.pk][key] for key in ("started", "completed", "handed_off", "running")} == {
        "started": 3,
        "completed": 1,
        "handed_off": 1,
        "running": 1,
    }
    assert by_flow[idle.pk]["started"] == 0
    assert {row["flow_id"]: row["started"] for row in later} == {flow.pk: 0, idle.pk: 0}


def test_the_flows_report_answers_on_the_reports_api_for_managers_each_in_their_scope(desk, alpha):
    flow = make_flow(alpha)
    with schema_context(alpha.schema_name):
        inbox = make_inbox(alpha, name="Report line")  # answered by no team
        for _ in range(2):
            session_start(flow=flow, conversation=receive(alpha, inbox).conversation, trigger="manual")

    def started(role: str):
        response = desk["api"][role].get("/api/v1/reports/flows")
        if response.status_code != 200:
            return response.status_code
        return {row["flow_id"]: (row["started"], row["running"]) for row in response.json()["items"]}

    assert started("admin")[flow.pk] == (2, 2)
    assert started("supervisor")[flow.pk] == (0, 0)  # not an inbox of the supervisor's teams
    assert started("agent") == 403


def test_another_companys_flows_report_never_shows_this_ones_flows(desk, alpha, bravo, api):
    flow = make_flow(alpha)
    with schema_context(alpha.schema_name):
        conversation = receive(alpha, make_inbox(alpha)).conversation
        session_start(flow=flow, conversation=conversation, trigger="manual")
    bravo_admin = make_user(bravo, role="admin")
    bravo_client = api(bravo, token=api(bravo).login(bravo_admin.email)["access"])

    response = bravo_client.get("/api/v1/reports/flows")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["items"]] == []
    alpha_token = desk["api"]["admin"].headers["Authorization"]
    assert api(bravo).get("/api/v1/reports/flows", headers={"Authorization": alpha_token}).status_code == 401
