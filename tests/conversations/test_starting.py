"""Agent-started conversations: `POST /api/v1/conversations` with a template (issue 12)."""

import pytest
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.services import conversation_transfer
from apps.inboxes.models import Inbox
from apps.teams.models import Team, TeamMember
from tests.conftest import host_of
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, make_template, new_phone, receive

pytestmark = pytest.mark.django_db

TEMPLATE = {"name": "order_update", "language": "en", "variables": ["Carla", "#1042"]}


@pytest.fixture
def desk(api, alpha):
    inbox = make_inbox(alpha)
    make_template(alpha, inbox)
    with schema_context(alpha.schema_name):
        team = Team.objects.create(name="Sales desk")
        Inbox.objects.filter(pk=inbox.pk).update(default_team=team)
        contact = contact_create(phone=new_phone(), name="Carla Cliente")
    ana = make_user(alpha, name="Ana")
    with schema_context(alpha.schema_name):
        TeamMember.objects.create(team=team, user=ana)
    return {"inbox": inbox, "team": team, "contact": contact, "ana": ana,
            "client": api(alpha, token=api(alpha).login(ana.email)["access"])}


def counts(company) -> tuple[int, int, int]:
    with schema_context(company.schema_name):
        return Conversation.objects.count(), Message.objects.count(), Contact.objects.count()


def test_an_agent_starts_a_conversation_with_a_template_and_holds_it(alpha, desk):
    response = desk["client"].post("/api/v1/conversations", {
        "inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template": TEMPLATE,
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["assignee_id"] == desk["ana"].pk and body["team_id"] == desk["team"].pk
    assert body["status"] == "open" and body["contact"]["id"] == desk["contact"].pk
    with schema_context(alpha.schema_name):
        first = Message.objects.get(conversation_id=body["id"])
        assert first.kind == "template" and first.text == "Hi Carla, your order #1042 shipped."
        assert first.sender_user_id == desk["ana"].pk and first.direction == "outbound"
        assert TimelineEvent.objects.filter(conversation_id=body["id"], kind="started").exists()
        conversation = Conversation.objects.get(pk=body["id"])
        assert conversation.last_message_preview == "Hi Carla, your order #1042 shipped."
    assert body["last_message_preview"] == "Hi Carla, your order #1042 shipped."
    # It is in the agent's list, as a conversation of theirs.
    mine = desk["client"].get("/api/v1/conversations?assignee=me").json()["items"]
    assert [c["id"] for c in mine] == [body["id"]]


def test_a_new_phone_in_any_shape_becomes_a_contact_and_a_known_one_is_reused(alpha, desk):
    response = desk["client"].post("/api/v1/conversations", {
        "inbox_id": desk["inbox"].pk, "phone": "+55 (11) 98765-4321", "name": "Nova Pessoa",
        "template": TEMPLATE,
    })
    assert response.status_code == 201, response.content
    assert response.json()["contact"]["phone"] == "+5511987654321"
    with schema_context(alpha.schema_name):
        assert Contact.objects.get(phone="+5511987654321").name == "Nova Pessoa"
    other_inbox = make_inbox(alpha, name="Second line")
    make_template(alpha, other_inbox)
    again = desk["client"].post("/api/v1/conversations", {
        "inbox_id": other_inbox.pk, "phone": "5511987654321", "template": TEMPLATE,
    })
    assert again.status_code == 201
    assert again.json()["contact"]["id"] == response.json()["contact"]["id"]


def test_a_contact_with_a_conversation_in_progress_is_409_with_its_id(alpha, desk):
    existing = receive(alpha, desk["inbox"], phone=desk["contact"].phone, text="Hi").conversation_id
    before = counts(alpha)
    response = desk["client"].post("/api/v1/conversations", {
        "inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template": TEMPLATE,
    })
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict" and error["details"][0]["conversation_id"] == existing
    assert counts(alpha) == before


def test_the_409_does_not_name_another_teams_conversation(alpha, desk):
    existing = receive(alpha, desk["inbox"], phone=desk["contact"].phone, text="Hi").conversation_id
    with schema_context(alpha.schema_name):
        other = Team.objects.create(name="Other team")
        conversation_transfer(conversation=Conversation.objects.get(pk=existing), actor=None, team=other)
    response = desk["client"].post("/api/v1/conversations", {
        "inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template": TEMPLATE,
    })
    assert response.status_code == 409
    assert "conversation_id" not in response.json()["error"]["details"][0]
    assert str(existing) not in response.content.decode()


@pytest.mark.parametrize(("change", "field"), [
    ({"template": {"name": "no_such_template", "language": "en", "variables": []}}, "template.name"),
    ({"template": {"name": "order_update", "language": "en", "variables": ["one"]}}, "template.variables"),
    ({"template": {"name": "", "variables": []}}, "template.name"),
    ({"template": {"name": "order_update", "variables": ["Carla", " "]}}, "template.variables"),
    ({"template": None}, "template"),
    ({"inbox_id": 999999}, "inbox_id"),
    ({"contact_id": 999999}, "contact_id"),
    ({"contact_id": None}, "contact_id"),
    ({"contact_id": None, "phone": "12"}, "phone"),
    ({"phone": "+5511987654321"}, "contact_id"),
])
def test_bad_input_is_422_naming_the_field_and_nothing_is_written(alpha, desk, change, field):
    body = {"inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template": TEMPLATE, **change}
    before = counts(alpha)
    response = desk["client"].post("/api/v1/conversations", body)
    assert response.status_code == 422, response.content
    fields = [detail["field"] for detail in response.json()["error"]["details"]]
    assert any(name in (field, f"body.{field}") or name.startswith(f"{field}.") for name in fields), fields
    assert counts(alpha) == before


def test_free_text_cannot_start_a_conversation(alpha, desk):
    response = desk["client"].post("/api/v1/conversations", {
        "inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "text": "Hello there",
    })
    assert response.status_code == 422


def test_an_api_key_starts_one_unassigned_and_needs_the_write_scope(api, alpha, desk):
    _, writer = make_api_key(alpha, scopes=["conversations:read", "conversations:write"])
    _, reader = make_api_key(alpha, scopes=["conversations:read"])
    body = {"inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template": TEMPLATE}
    assert api(alpha, headers={"X-Api-Key": reader}).post("/api/v1/conversations", body).status_code == 403
    response = api(alpha, headers={"X-Api-Key": writer}).post("/api/v1/conversations", body)
    assert response.status_code == 201 and response.json()["assignee_id"] is None
    # A new phone creates a contact: that needs the contacts scope too.
    new = {"inbox_id": desk["inbox"].pk, "phone": new_phone(), "template": TEMPLATE}
    assert api(alpha, headers={"X-Api-Key": writer}).post("/api/v1/conversations", new).status_code == 403


def test_another_companys_token_and_ids_get_nowhere(api, alpha, bravo, desk):
    bravo_admin = make_user(bravo, role="admin")
    bravo_token = api(bravo).login(bravo_admin.email)["access"]
    body = {"inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template": TEMPLATE}
    # Bravo's token on alpha's host: 401; on its own host alpha's ids do not exist there.
    assert api(host_of(alpha), token=bravo_token).post("/api/v1/conversations", body).status_code == 401
    before = counts(bravo)
    assert api(bravo, token=bravo_token).post("/api/v1/conversations", body).status_code == 422
    assert counts(bravo) == before
