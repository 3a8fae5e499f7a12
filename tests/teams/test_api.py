"""`/api/v1/teams` (SPEC §7, §15.1): who may read and manage teams, what is stored, what is refused."""

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_transfer
from apps.inboxes.models import Inbox
from apps.teams.events import TEAM_DELETED, TEAM_MEMBERS_CHANGED, TEAM_UPDATED
from apps.teams.models import Team, TeamMember
from conversa import events
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db

HOURS = {
    "timezone": "America/Sao_Paulo",
    "days": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["09:00", "13:00"]]},
    "holidays": ["2026-12-25"],
}


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
    return {"people": people, "api": clients, "inbox": make_inbox(alpha)}


@pytest.fixture
def published(monkeypatch):
    """The names and data of the events published (and committed) during the test."""
    seen = []
    monkeypatch.setattr(events, "dispatch", lambda event: seen.append((event.name, event.data)))
    return seen


def _create(client, **body):
    return client.post("/api/v1/teams", {"name": "Sales", "routing": "round_robin", **body})


def test_a_supervisor_creates_a_team_with_hours_sla_inboxes_and_reads_it_back(
    alpha, desk, django_capture_on_commit_callbacks, published,
):
    with django_capture_on_commit_callbacks(execute=True):
        created = _create(
            desk["api"]["supervisor"], inbox_ids=[desk["inbox"].pk], business_hours=HOURS,
            sla={"first_response_seconds": 300, "resolution_seconds": 86400}, offline_message="We are closed",
        )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Sales" and body["routing"] == "round_robin"
    assert body["inbox_ids"] == [desk["inbox"].pk]
    assert body["business_hours"] == HOURS
    assert body["sla"] == {"first_response_seconds": 300, "resolution_seconds": 86400}
    assert body["offline_message"] == "We are closed" and body["members"] == []
    assert (TEAM_UPDATED, {"team_id": body["id"]}) in published

    # An agent may read it (to transfer), in the list and alone.
    listed = desk["api"]["agent"].get("/api/v1/teams")
    assert listed.status_code == 200 and body["id"] in [t["id"] for t in listed.json()["items"]]
    assert "next_cursor" in listed.json()
    assert desk["api"]["agent"].get(f"/api/v1/teams/{body['id']}").json()["name"] == "Sales"
    with schema_context(alpha.schema_name):
        assert Inbox.objects.get(pk=desk["inbox"].pk).default_team_id == body["id"]
        entry = AuditLog.objects.get(action="team.created", entity_id=str(body["id"]))
        assert entry.actor_id == desk["people"]["supervisor"].pk


def test_agents_and_api_keys_may_read_teams_but_never_manage_them(alpha, desk, api):
    team_id = _create(desk["api"]["admin"]).json()["id"]
    agent = desk["api"]["agent"]
    assert _create(agent, name="Mine").status_code == 403
    assert agent.patch(f"/api/v1/teams/{team_id}", {"name": "Renamed"}).status_code == 403
    assert agent.delete(f"/api/v1/teams/{team_id}").status_code == 403
    member = {"user_id": desk["people"]["agent"].pk}
    assert agent.post(f"/api/v1/teams/{team_id}/members", member).status_code == 403

    _key, secret = make_api_key(alpha, scopes=("conversations:read", "conversations:write"))
    key = api(alpha, headers={"X-Api-Key": secret})
    assert key.get(f"/api/v1/teams/{team_id}").status_code == 200
    refused = key.post(f"/api/v1/teams/{team_id}/members", member)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert key.delete(f"/api/v1/teams/{team_id}").status_code == 403
    _key, other = make_api_key(alpha, scopes=("contacts:read",))
    assert api(alpha, headers={"X-Api-Key": other}).get("/api/v1/teams").status_code == 403
    with schema_context(alpha.schema_name):
        team = Team.objects.get(pk=team_id)
        assert team.name == "Sales" and not team.members.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"routing": "random"}, "routing"),
    ({"business_hours": {"timezone": "Mars/Olympus", "days": {}}}, "business_hours.timezone"),
    ({"business_hours": {"timezone": "UTC", "days": {"mon": [["18:00", "09:00"]]}}},
     "business_hours.days.mon"),
    ({"business_hours": {"timezone": "UTC", "days": {"funday": [["09:00", "10:00"]]}}},
     "business_hours.days.funday"),
    ({"business_hours": {"timezone": "UTC", "days": {"mon": [["9am", "10:00"]]}}}, "business_hours.days.mon"),
    ({"business_hours": {"timezone": "UTC", "days": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}},
     "business_hours.days.mon"),
    ({"business_hours": {"timezone": "UTC", "holidays": ["25/12/2026"]}}, "business_hours.holidays"),
    ({"sla": {"first_response_seconds": 0}}, "sla.first_response_seconds"),
    ({"sla": {"first_response_seconds": -5}}, "sla.first_response_seconds"),
    ({"sla": {"first_response_minutes": 5}}, "sla.first_response_minutes"),
    ({"inbox_ids": [987654]}, "inbox_ids"),
    ({"name": ""}, "name"),
])
def test_bad_input_is_a_422_with_the_field_and_stores_nothing(alpha, desk, body, field):
    response = _create(desk["api"]["admin"], **body)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    # A detail may name the exact pair or date (`….mon.0`, `….holidays.0`).
    assert any(d["field"] == field or d["field"].startswith(f"{field}.") for d in error["details"]), error
    with schema_context(alpha.schema_name):
        assert not Team.objects.filter(name__in=["Sales", ""]).exists()


def test_a_second_team_with_the_same_name_in_any_case_is_a_conflict(alpha, desk):
    assert _create(desk["api"]["admin"]).status_code == 201
    again = _create(desk["api"]["supervisor"], name="sales")
    assert again.status_code == 409 and again.json()["error"]["details"][0]["field"] == "name"
    other = _create(desk["api"]["admin"], name="Support").json()["id"]
    renamed = desk["api"]["admin"].patch(f"/api/v1/teams/{other}", {"name": "SALES"})
    assert renamed.status_code == 409
    with schema_context(alpha.schema_name):
        assert Team.objects.get(pk=other).name == "Support"


def test_patch_changes_only_what_is_given_and_moves_the_inboxes(alpha, desk):
    admin = desk["api"]["admin"]
    second = make_inbox(alpha, name="Second line")
    team = _create(admin, inbox_ids=[desk["inbox"].pk], business_hours=HOURS,
                   sla={"first_response_seconds": 60}).json()
    changed = admin.patch(f"/api/v1/teams/{team['id']}", {
        "inbox_ids": [second.pk], "sla": {"resolution_seconds": 7200}, "routing": "least_busy",
    })
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["inbox_ids"] == [second.pk] and body["routing"] == "least_busy"
    assert body["sla"] == {"first_response_seconds": 60, "resolution_seconds": 7200}
    assert body["business_hours"] == HOURS and body["name"] == "Sales"
    # null: always open, no targets.
    cleared = admin.patch(f"/api/v1/teams/{team['id']}", {"business_hours": None, "sla": None}).json()
    assert cleared["business_hours"] == {} and cleared["sla"] == {
        "first_response_seconds": None, "resolution_seconds": None,
    }
    with schema_context(alpha.schema_name):
        assert Inbox.objects.get(pk=desk["inbox"].pk).default_team_id is None
        assert Inbox.objects.get(pk=second.pk).default_team_id == team["id"]
        audit = AuditLog.objects.filter(action="team.updated", entity_id=str(team["id"])).earliest("id")
        assert audit.changes["routing"] == ["round_robin", "least_busy"]


def test_members_are_added_updated_and_removed_with_their_routing_settings(
    alpha, desk, django_capture_on_commit_callbacks, published, monkeypatch,
):
    admin, ana = desk["api"]["admin"], desk["people"]["agent"]
    closed = []
    monkeypatch.setattr("apps.teams.services.close_user_sockets",
                        lambda schema, user_id, code: closed.append((schema, user_id, code)))
    team_id = _create(admin).json()["id"]
    url = f"/api/v1/teams/{team_id}/members"
    with django_capture_on_commit_callbacks(execute=True):
        added = admin.post(url, {"user_id": ana.pk, "capacity": 3, "priority": 2, "skills": ["Billing"]})
    assert added.status_code == 201, added.content
    assert added.json()["members"] == [{
        "user_id": ana.pk, "name": "Ana Agent", "email": ana.email, "role": "agent", "status": ana.status,
        "capacity": 3, "priority": 2, "skills": ["billing"],
    }]
    assert (TEAM_MEMBERS_CHANGED, {"team_id": team_id, "user_id": ana.pk}) in published
    assert closed == [(alpha.schema_name, ana.pk, 1012)]

    # Adding an existing member updates it; a raised capacity may bring work.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        updated = admin.post(url, {"user_id": ana.pk, "capacity": 8})
    assert updated.status_code == 200
    assert updated.json()["members"][0]["capacity"] == 8 and updated.json()["members"][0]["priority"] == 2
    assert (TEAM_MEMBERS_CHANGED, {"team_id": team_id, "user_id": ana.pk}) in published
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(url, {"user_id": ana.pk, "capacity": 4})
    assert TEAM_MEMBERS_CHANGED not in [name for name, _data in published]

    for bad in ({"user_id": ana.pk, "capacity": 0}, {"user_id": ana.pk, "capacity": 101},
                {"user_id": 987654}):
        refused = admin.post(url, bad)
        assert refused.status_code == 422, (bad, refused.content)
    with schema_context(alpha.schema_name):
        assert TeamMember.objects.get(team_id=team_id, user=ana).capacity == 4

    closed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.delete(f"{url}/{ana.pk}").status_code == 204
    assert closed == [(alpha.schema_name, ana.pk, 1012)]
    assert admin.delete(f"{url}/{ana.pk}").status_code == 404
    with schema_context(alpha.schema_name):
        assert not TeamMember.objects.filter(team_id=team_id).exists()
        actions = set(AuditLog.objects.filter(entity_type="team", entity_id=str(team_id))
                      .values_list("action", flat=True))
        assert {"team.member_added", "team.member_updated", "team.member_removed"} <= actions


def test_deleting_a_team_leaves_its_conversations_and_inboxes_without_a_team(
    alpha, desk, django_capture_on_commit_callbacks, published,
):
    admin = desk["api"]["admin"]
    team_id = _create(admin, inbox_ids=[desk["inbox"].pk]).json()["id"]
    admin.post(f"/api/v1/teams/{team_id}/members", {"user_id": desk["people"]["agent"].pk})
    conversation_id = receive(alpha, desk["inbox"]).conversation_id
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        if conversation.team_id != team_id:
            conversation_transfer(conversation=conversation, actor=None, team=Team.objects.get(pk=team_id))
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.delete(f"/api/v1/teams/{team_id}").status_code == 204
    assert (TEAM_DELETED, {"team_id": team_id, "name": "Sales"}) in published
    assert admin.get(f"/api/v1/teams/{team_id}").status_code == 404
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).team_id is None
        assert Inbox.objects.get(pk=desk["inbox"].pk).default_team_id is None
        assert AuditLog.objects.filter(action="team.deleted", entity_id=str(team_id)).exists()


def test_the_realtime_frame_of_a_team_goes_to_the_whole_staff(alpha, desk):
    from apps.teams.events import team_updated_frame
    from conversa.events import Event

    team_id = _create(desk["api"]["admin"], inbox_ids=[desk["inbox"].pk]).json()["id"]
    desk["api"]["admin"].post(f"/api/v1/teams/{team_id}/members", {"user_id": desk["people"]["agent"].pk})
    with schema_context(alpha.schema_name):
        data, audience = team_updated_frame(Event(TEAM_UPDATED, alpha.schema_name, {"team_id": team_id}))
    assert data == {"id": team_id, "name": "Sales", "routing": "round_robin",
                    "member_ids": [desk["people"]["agent"].pk], "inbox_ids": [desk["inbox"].pk]}
    assert audience == ["staff"]


def test_an_inbox_is_created_with_its_default_team_and_automations(alpha, desk):
    admin = desk["api"]["admin"]
    team_id = _create(admin).json()["id"]
    created = admin.post("/api/v1/inboxes", {
        "name": "Vendas WhatsApp", "provider": "sandbox", "default_team_id": team_id,
        "greeting_message": "Olá!", "auto_close_after_hours": 72, "auto_close_message": "Até logo",
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["default_team_id"], body["greeting_message"]) == (team_id, "Olá!")
    assert (body["auto_close_after_hours"], body["auto_close_message"]) == (72, "Até logo")
    assert team_id in [t["id"] for t in admin.get("/api/v1/teams").json()["items"]
                       if body["id"] in t["inbox_ids"]]
    refused = admin.post(
        "/api/v1/inboxes", {"name": "Nope", "provider": "sandbox", "default_team_id": 987654}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == [{"field": "default_team_id", "message": "No such team."}]
    with schema_context(alpha.schema_name):
        assert not Inbox.objects.filter(name="Nope").exists()
