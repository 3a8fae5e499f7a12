"""Credentials of one company are worthless on another company's host (acceptance 1)."""

import pytest

from tests.fixtures.factories import PASSWORD, make_api_key, make_user

pytestmark = pytest.mark.django_db


def test_a_user_logs_in_on_their_own_host_only(api, alpha, bravo):
    # given a user of alpha
    user = make_user(alpha)

    # when they log in on alpha's host, then they get tokens and themselves
    body = api(alpha).login(user.email)
    assert body["user"]["email"] == user.email
    assert body["access"] and body["refresh"]

    # when the same credentials are tried on bravo's host, then 401
    response = api(bravo).post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_tokens_of_one_company_are_refused_on_another(api, alpha, bravo):
    # given users with the same id position in both companies (both schemas number from 1)
    user_a = make_user(alpha)
    make_user(bravo)
    tokens = api(alpha).login(user_a.email)

    # the access token works at home…
    assert api(alpha, token=tokens["access"]).get("/api/v1/auth/me").status_code == 200

    # …but not on bravo, even though bravo has a user with that id
    me = api(bravo, token=tokens["access"]).get("/api/v1/auth/me")
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "token_invalid"

    # and the refresh token cannot be rotated on bravo either
    refreshed = api(bravo).post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "token_invalid"


def test_same_user_id_in_both_schemas_does_not_cross(api, alpha, bravo, in_schema):
    from apps.accounts.models import User

    user_a = make_user(alpha)
    # make bravo have a user with exactly user_a's primary key
    with in_schema(bravo.schema_name):
        while User.objects.order_by("-pk").values_list("pk", flat=True).first() < user_a.pk:
            make_user(bravo)
        assert User.objects.filter(pk=user_a.pk).exists()
    token = api(alpha).login(user_a.email)["access"]
    assert api(bravo, token=token).get("/api/v1/auth/me").status_code == 401


def test_an_api_key_works_only_on_its_own_host(api, alpha, bravo):
    _, key = make_api_key(alpha, scopes=["users:read"])

    assert api(alpha, headers={"X-Api-Key": key}).get("/api/v1/users").status_code == 200
    assert api(alpha, token=key).get("/api/v1/users").status_code == 200

    for client in (api(bravo, headers={"X-Api-Key": key}), api(bravo, token=key)):
        response = client.get("/api/v1/users")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_invalid"


def test_an_unknown_host_is_404_not_another_company(api, alpha):
    user = make_user(alpha)
    token = api(alpha).login(user.email)["access"]

    response = api("nobody.localhost", token=token).get("/api/v1/auth/me")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_tenant_users_cannot_use_the_platform_api_and_vice_versa(api, alpha, superadmin):
    user = make_user(alpha, role="admin")
    # a tenant admin's credentials on BASE_DOMAIN
    response = api("localhost").post(
        "/platform/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
    )
    assert response.status_code == 401
    # a tenant token on the platform API
    token = api(alpha).login(user.email)["access"]
    assert api("localhost", token=token).get("/platform/api/v1/companies").status_code == 401
    # a super-admin's credentials on a tenant host
    response = api(alpha).post(
        "/api/v1/auth/login", {"email": superadmin.email, "password": PASSWORD},
    )
    assert response.status_code == 401
    # a super-admin's token on a tenant host
    platform_token = api("localhost").post(
        "/platform/api/v1/auth/login", {"email": superadmin.email, "password": PASSWORD},
    ).json()["access"]
    assert api(alpha, token=platform_token).get("/api/v1/auth/me").status_code == 401
