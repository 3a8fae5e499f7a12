"""Tasks (SPEC §11, §15.1; issue 18 acceptance 3): who may see and change a task — its assignee,
its creator, the supervisors of the assignee's teams, the admins, and for a task about a
conversation only those who may see that conversation — filters, comments, §13 errors, isolation."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.conversations.models import Conversation
from apps.conversations.services import conversation_transfer
from apps.notifications.models import Notification
from apps.tasks.models import Task
from apps.teams.services import team_create, team_member_set
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def signed_in(api, company, role="agent", user=None):
    user = user or make_user(company, role=role)
    return user, api(company, token=api(company).login(user.email)["access"])


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_an_agent_keeps_tasks_for_themselves_and_completes_them_with_notes(alpha, api):
    agent, client = signed_in(api, alpha)
    due = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    created = client.post("/api/v1/tasks", {"title": "Call back Ana", "due_at": due, "priority": "high"})
    assert created.status_code == 201, created.content
    task = created.json()
    assert (task["assignee_id"], task["status"], task["overdue"]) == (agent.pk, "pending", False)

    done = client.patch(f"/api/v1/tasks/{task['id']}", {"status": "done",
                                                          "completion_notes": "She renewed."}).json()
    assert (done["status"], done["completion_notes"]) == ("done", "She renewed.")
    assert done["completed_at"] is not None
    assert ids(client.get("/api/v1/tasks?assignee=me&status=pending")) == []
    assert ids(client.get("/api/v1/tasks?assignee=me&status=done")) == [task["id"]]

    other = make_user(alpha)
    refused = client.post("/api/v1/tasks", {"title": "For a colleague", "assignee_id": other.pk})
    assert refused.status_code == 403


def test_overdue_tasks_and_comments(alpha, api):
    supervisor, manager = signed_in(api, alpha, "supervisor")
    agent, client = signed_in(api, alpha)
    late = manager.post("/api/v1/tasks", {
        "title": "Send the quote", "assignee_id": agent.pk,
        "due_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
    }).json()
    manager.post("/api/v1/tasks", {"title": "Later", "assignee_id": agent.pk,
                                   "due_at": (timezone.now() + dt.timedelta(days=1)).isoformat()})
    assert ids(client.get("/api/v1/tasks?overdue=true")) == [late["id"]]
    with schema_context(alpha.schema_name):
        assert Notification.objects.filter(user=agent, kind="task_assigned",
                                           data__task_id=late["id"]).exists()

    comment = client.post(f"/api/v1/tasks/{late['id']}/comments", {"text": "Waiting for prices"})
    assert comment.status_code == 201 and comment.json()["author_id"] == agent.pk
    listed = manager.get(f"/api/v1/tasks/{late['id']}/comments").json()["items"]
    assert [c["text"] for c in listed] == ["Waiting for prices"]
    with schema_context(alpha.schema_name):
        assert Notification.objects.filter(user=supervisor, kind="task_comment").exists()


def test_who_sees_a_task_assignee_creator_team_supervisor_admin_and_nobody_else(alpha, api):
    agent, agent_client = signed_in(api, alpha)
    team_supervisor, team_sup_client = signed_in(api, alpha, "supervisor")
    other_supervisor, other_sup_client = signed_in(api, alpha, "supervisor")
    _admin, admin_client = signed_in(api, alpha, "admin")
    _stranger, stranger_client = signed_in(api, alpha)
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Task team")
        team_member_set(actor=None, team=team, user=agent)
        team_member_set(actor=None, team=team, user=team_supervisor)
    task = other_sup_client.post("/api/v1/tasks", {"title": "Follow up", "assignee_id": agent.pk}).json()

    for client in (agent_client, team_sup_client, other_sup_client, admin_client):
        assert client.get(f"/api/v1/tasks/{task['id']}").status_code == 200
    assert stranger_client.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert stranger_client.patch(f"/api/v1/tasks/{task['id']}", {"status": "done"}).status_code == 404
    assert stranger_client.post(f"/api/v1/tasks/{task['id']}/comments", {"text": "x"}).status_code == 404
    assert task["id"] not in ids(stranger_client.get("/api/v1/tasks"))
    assert task["id"] in ids(team_sup_client.get(f"/api/v1/tasks?team={team.pk}"))


def test_a_task_about_a_conversation_follows_the_conversations_visibility(alpha, api):
    inbox = make_inbox(alpha)
    agent, agent_client = signed_in(api, alpha)
    _admin, admin_client = signed_in(api, alpha, "admin")
    conversation_id = receive(alpha, inbox, text="Need an invoice").conversation_id
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        team = team_create(actor=None, name="Billing team")
        conversation_transfer(conversation=conversation, actor=None, team=team)
    # The agent is in no team of this conversation: they cannot tie a task to it.
    refused = agent_client.post("/api/v1/tasks", {"title": "Invoice", "conversation_id": conversation_id})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "conversation_id"

    task = admin_client.post("/api/v1/tasks", {"title": "Invoice", "assignee_id": agent.pk,
                                               "conversation_id": conversation_id}).json()
    assert task["contact_id"] == conversation.contact_id
    # Assigned to the agent, but about a conversation they may not see: hidden from them.
    assert agent_client.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    with schema_context(alpha.schema_name):
        team_member_set(actor=None, team=team, user=agent)
    assert agent_client.get(f"/api/v1/tasks/{task['id']}").status_code == 200
    assert ids(agent_client.get(f"/api/v1/tasks?conversation={conversation_id}")) == [task["id"]]


def test_bad_input_is_422_and_changes_nothing(alpha, api):
    agent, client = signed_in(api, alpha)
    for body, field in (({"title": ""}, "title"), ({"title": "x", "priority": "asap"}, "priority"),
                        ({"title": "x", "due_at": "2030-01-01T10:00:00"}, "due_at"),
                        ({"title": "x", "contact_id": 99999999}, "contact_id")):
        response = client.post("/api/v1/tasks", body)
        assert response.status_code == 422, body
        assert field in str(response.json()["error"]["details"]), response.json()
    assert client.get("/api/v1/tasks?assignee=someone").status_code == 422
    with schema_context(alpha.schema_name):
        assert not Task.objects.filter(assignee=agent).exists()


def test_one_companys_tasks_are_unknown_to_another_companys_users_keys_and_tokens(alpha, bravo, api):
    _agent, client = signed_in(api, alpha)
    task = client.post("/api/v1/tasks", {"title": "Alpha's task"}).json()
    _b, bravo_admin = signed_in(api, bravo, "admin")
    assert bravo_admin.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert bravo_admin.patch(f"/api/v1/tasks/{task['id']}", {"status": "done"}).status_code == 404
    assert task["id"] not in ids(bravo_admin.get("/api/v1/tasks"))
    _key, raw = make_api_key(bravo, scopes=["tasks:read", "tasks:write"])
    assert api(bravo, headers={"X-Api-Key": raw}).get(f"/api/v1/tasks/{task['id']}").status_code == 404
    token = client.headers["Authorization"].split()[1]
    assert api(bravo, token=token).get("/api/v1/tasks").status_code == 401
    with schema_context(alpha.schema_name):
        assert Task.objects.get(pk=task["id"]).status == "pending"
