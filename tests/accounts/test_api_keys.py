"""API keys: created by admins, shown once, hashed, scoped, revocable, recorded when used."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.fixtures.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(api, alpha):
    admin = make_user(alpha, role="admin")
    return api(alpha, token=api(alpha).login(admin.email)["access"])


def test_an_admin_creates_a_key_whose_secret_is_shown_once(admin_client, alpha, in_schema):
    from apps.accounts.models import ApiKey

    response = admin_client.post("/api/v1/api-keys", {"name": "CRM sync", "scopes": ["users:read"]})

    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith(f"cv_live_{body['prefix']}_")
    listed = admin_client.get("/api/v1/api-keys").json()["items"]
    assert [k["name"] for k in listed] == ["CRM sync"] or "CRM sync" in [k["name"] for k in listed]
    assert all("key" not in k for k in listed)
    with in_schema(alpha.schema_name):
        stored = ApiKey.objects.get(pk=body["id"])
    assert body["key"].split("_")[-1] not in stored.secret_hash


def test_agents_and_keys_cannot_manage_keys(api, alpha):
    agent = make_user(alpha, role="agent")
    agent_client = api(alpha, token=api(alpha).login(agent.email)["access"])
    assert agent_client.post("/api/v1/api-keys", {"name": "x", "scopes": ["users:read"]}).status_code == 403

    _, key = make_api_key(alpha, scopes=["users:read", "users:write"])
    key_client = api(alpha, headers={"X-Api-Key": key})
    assert key_client.get("/api/v1/api-keys").status_code == 403


def test_unknown_scopes_are_refused_and_nothing_is_created(admin_client, alpha, in_schema):
    from apps.accounts.models import ApiKey

    with in_schema(alpha.schema_name):
        before = ApiKey.objects.count()
    response = admin_client.post("/api/v1/api-keys", {"name": "x", "scopes": ["everything:*"]})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "scopes"
    with in_schema(alpha.schema_name):
        assert ApiKey.objects.count() == before


def test_a_key_can_do_only_what_its_scopes_allow(api, alpha):
    _, key = make_api_key(alpha, scopes=["users:read"])
    client = api(alpha, headers={"X-Api-Key": key})

    assert client.get("/api/v1/users").status_code == 200
    created = client.post("/api/v1/users", {"email": "new@example.com", "password": "long-password-1"})
    assert created.status_code == 403


def test_revocation_is_immediate(admin_client, api, alpha):
    created = admin_client.post("/api/v1/api-keys", {"name": "tmp", "scopes": ["users:read"]}).json()
    client = api(alpha, headers={"X-Api-Key": created["key"]})
    assert client.get("/api/v1/users").status_code == 200

    assert admin_client.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204

    response = client.get("/api/v1/users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_an_expired_key_is_refused(api, alpha, in_schema):
    from apps.accounts.models import ApiKey

    key_row, key = make_api_key(alpha, scopes=["users:read"])
    with in_schema(alpha.schema_name):
        ApiKey.objects.filter(pk=key_row.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api(alpha, headers={"X-Api-Key": key}).get("/api/v1/users").status_code == 401


def test_a_tampered_secret_is_refused(api, alpha):
    _, key = make_api_key(alpha, scopes=["users:read"])
    assert api(alpha, headers={"X-Api-Key": key[:-2] + "xx"}).get("/api/v1/users").status_code == 401


def test_last_used_at_is_recorded(api, alpha, in_schema):
    from apps.accounts.models import ApiKey

    key_row, key = make_api_key(alpha, scopes=["users:read"])
    assert key_row.last_used_at is None
    api(alpha, headers={"X-Api-Key": key}).get("/api/v1/users")
    with in_schema(alpha.schema_name):
        assert ApiKey.objects.get(pk=key_row.pk).last_used_at is not None
