"""The rate limits hold across web processes: two uvicorn servers share each budget through Redis."""

import pytest

from tests.fixtures import live
from tests.fixtures.factories import PASSWORD, make_api_key, make_user

pytestmark = [pytest.mark.live]

GENERAL = 8
EXPORTS = 2


@pytest.fixture(scope="module")
def two_servers(django_db_setup, tmp_path_factory):
    env = {"RATE_LIMIT_GENERAL_PER_MINUTE": str(GENERAL), "RATE_LIMIT_EXPORTS_PER_MINUTE": str(EXPORTS)}
    logs = tmp_path_factory.mktemp("rate-limit-logs")
    servers = [live.start_server(logs / f"uvicorn-{n}.log", **env) for n in (1, 2)]
    yield servers
    for server in servers:
        live.stop(server.process)


def clients(servers, company):
    host = f"{company.slug}.localhost"
    return [server.client(host) for server in servers]


def test_a_users_budget_is_shared_by_both_processes(two_servers, make_live_company):
    company = make_live_company(plan="enterprise")
    user = make_user(company)
    first, second = clients(two_servers, company)
    signed_in = first.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    token = signed_in.json()["access"]
    headers = {"Authorization": f"Bearer {token}"}

    # alternate between the processes: together they allow exactly GENERAL requests
    statuses = [(first if n % 2 else second).get("/api/v1/auth/me", headers=headers).status_code
                for n in range(GENERAL)]
    refused = first.get("/api/v1/auth/me", headers=headers)
    also_refused = second.get("/api/v1/auth/me", headers=headers)

    assert statuses == [200] * GENERAL
    for response in (refused, also_refused):
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) == 60 // GENERAL + (60 % GENERAL > 0)


def test_a_keys_export_budget_is_shared_by_both_processes(two_servers, make_live_company):
    company = make_live_company(plan="enterprise")
    _key, secret = make_api_key(company, scopes=["contacts:read"])
    first, second = clients(two_servers, company)
    headers = {"X-Api-Key": secret}

    started = [first.post("/api/v1/exports", json={"entity": "contacts"}, headers=headers).status_code,
               second.post("/api/v1/exports", json={"entity": "contacts"}, headers=headers).status_code]
    refused = first.post("/api/v1/exports", json={"entity": "contacts"}, headers=headers)

    assert started == [202, 202]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 60 // EXPORTS
