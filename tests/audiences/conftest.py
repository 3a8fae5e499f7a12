"""Signed-in clients of company alpha by role, and an API key maker, for the audiences tests."""

import pytest

from tests.fixtures.factories import make_api_key, make_user


def signed_in(api, company, role: str = "admin"):
    user = make_user(company, role=role)
    client = api(company, token=api(company).login(user.email)["access"])
    client.user = user
    return client


@pytest.fixture
def admin(api, alpha):
    return signed_in(api, alpha, "admin")


@pytest.fixture
def supervisor(api, alpha):
    return signed_in(api, alpha, "supervisor")


@pytest.fixture
def agent(api, alpha):
    return signed_in(api, alpha, "agent")


@pytest.fixture
def keyed(api, alpha):
    """`keyed(*scopes)` → a client of alpha authenticated by an API key with those scopes."""

    def make(*scopes):
        _, key = make_api_key(alpha, scopes=scopes)
        return api(alpha, headers={"X-Api-Key": key})

    return make
