"""Security events are audited; notifications reach only their user."""

import pytest

from apps.notifications.services import notify
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


def test_logins_and_api_key_changes_are_audited_for_admins_only(api, alpha):
    admin = make_user(alpha, role="admin")
    agent = make_user(alpha)
    api(alpha).post("/api/v1/auth/login", {"email": agent.email, "password": "wrong-password"})
    admin_client = api(alpha, token=api(alpha).login(admin.email)["access"])
    key = admin_client.post("/api/v1/api-keys", {"name": "ci", "scopes": ["users:read"]}).json()
    admin_client.delete(f"/api/v1/api-keys/{key['id']}")

    logs = admin_client.get("/api/v1/audit-logs?limit=100").json()["items"]
    actions = [log["action"] for log in logs]
    assert {"login_failed", "login", "api_key.created", "api_key.revoked"} <= set(actions)
    failed = next(
        log for log in logs if log["action"] == "login_failed" and log["entity_id"] == str(agent.pk)
    )
    assert failed["success"] is False
    assert failed["changes"] == {"email": agent.email, "reason": "wrong_password"}
    revoked = next(log for log in logs if log["action"] == "api_key.revoked")
    assert revoked["actor_id"] == admin.pk and revoked["entity_id"] == str(key["id"])

    agent_client = api(alpha, token=api(alpha).login(agent.email)["access"])
    assert agent_client.get("/api/v1/audit-logs").status_code == 403


def test_a_role_change_is_audited_with_before_and_after(api, alpha):
    admin = make_user(alpha, role="admin")
    agent = make_user(alpha)
    client = api(alpha, token=api(alpha).login(admin.email)["access"])
    client.patch(f"/api/v1/users/{agent.pk}", {"role": "supervisor"})
    logs = client.get("/api/v1/audit-logs?action=user.role_changed").json()["items"]
    assert logs[0]["changes"] == {"role": ["agent", "supervisor"]} and logs[0]["actor_id"] == admin.pk


def test_notifications_are_listed_and_marked_read_by_their_owner_only(api, alpha, in_schema):
    ana, bruno = make_user(alpha), make_user(alpha)
    with in_schema(alpha.schema_name):
        (note,) = notify(users=[ana], kind="file_infected", title="A file was removed")
    ana_client = api(alpha, token=api(alpha).login(ana.email)["access"])
    bruno_client = api(alpha, token=api(alpha).login(bruno.email)["access"])

    page = ana_client.get("/api/v1/notifications").json()
    assert page["unread_count"] == 1 and page["items"][0]["title"] == "A file was removed"
    assert bruno_client.get("/api/v1/notifications").json()["items"] == []
    assert bruno_client.post(f"/api/v1/notifications/{note.pk}/read").status_code == 404
    assert ana_client.post(f"/api/v1/notifications/{note.pk}/read").json()["read_at"]
    assert ana_client.get("/api/v1/notifications").json()["unread_count"] == 0
