"""Managing a company's users through the API."""

import pytest

from tests.fixtures.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(api, alpha):
    admin = make_user(alpha, role="admin")
    return api(alpha, token=api(alpha).login(admin.email)["access"]), admin


def test_an_admin_invites_a_user_who_can_then_log_in(admin_client, api, alpha):
    client, _ = admin_client
    response = client.post("/api/v1/users", {
        "email": "New.Agent@Example.com", "password": "long-password-1", "name": "New", "role": "supervisor",
    })
    assert response.status_code == 201
    assert response.json()["email"] == "new.agent@example.com"
    assert api(alpha).login("new.agent@example.com", "long-password-1")["user"]["role"] == "supervisor"


def test_duplicate_emails_are_409_and_weak_passwords_422(admin_client, alpha):
    client, admin = admin_client
    duplicate = client.post("/api/v1/users", {"email": admin.email.upper(), "password": "long-password-1"})
    assert duplicate.status_code == 409
    weak = client.post("/api/v1/users", {"email": "w@example.com", "password": "password"})
    assert weak.status_code == 422
    assert weak.json()["error"]["details"][0]["field"] == "password"
    bad_email = client.post("/api/v1/users", {"email": "not-an-email", "password": "long-password-1"})
    assert bad_email.status_code == 422
    assert bad_email.json()["error"]["details"][0]["field"] == "email"


def test_agents_cannot_create_users_or_change_roles(api, alpha):
    agent = make_user(alpha, role="agent")
    other = make_user(alpha, role="agent")
    client = api(alpha, token=api(alpha).login(agent.email)["access"])
    invite = {"email": "x@example.com", "password": "long-password-1"}
    assert client.post("/api/v1/users", invite).status_code == 403
    assert client.patch(f"/api/v1/users/{other.pk}", {"role": "admin"}).status_code == 403
    assert client.patch(f"/api/v1/users/{agent.pk}", {"role": "admin"}).status_code == 403


def test_an_admin_cannot_lock_themselves_out(admin_client):
    client, admin = admin_client
    assert client.patch(f"/api/v1/users/{admin.pk}", {"role": "agent"}).status_code == 403
    assert client.delete(f"/api/v1/users/{admin.pk}").status_code == 403


def test_users_are_listed_with_a_cursor(admin_client, alpha):
    client, _ = admin_client
    for _ in range(3):
        make_user(alpha)
    first = client.get("/api/v1/users?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/v1/users?limit=2&cursor={first['next_cursor']}").json()
    assert {u["id"] for u in first["items"]}.isdisjoint({u["id"] for u in second["items"]})
    assert client.get("/api/v1/users?limit=0").status_code == 422
    assert client.get("/api/v1/users?cursor=%%%").status_code == 422


def test_users_of_another_company_are_404(admin_client, alpha, bravo, in_schema):
    from apps.accounts.models import User

    client, _ = admin_client
    with in_schema(alpha.schema_name):
        highest_in_alpha = User.objects.order_by("-pk").first().pk
    stranger = make_user(bravo)
    while stranger.pk <= highest_in_alpha:
        stranger = make_user(bravo)

    assert client.get(f"/api/v1/users/{stranger.pk}").status_code == 404
    assert client.patch(f"/api/v1/users/{stranger.pk}", {"name": "hijacked"}).status_code == 404
    with in_schema(bravo.schema_name):
        assert User.objects.get(pk=stranger.pk).name != "hijacked"


def test_an_api_key_with_users_read_lists_users(api, alpha):
    _, key = make_api_key(alpha, scopes=["users:read"])
    items = api(alpha, headers={"X-Api-Key": key}).get("/api/v1/users").json()["items"]
    assert all(set(user) >= {"id", "email", "role", "status"} for user in items)
