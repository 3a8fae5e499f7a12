"""OpenAPI, docs pages and health endpoints."""

import pytest

from tests.fixtures.clamd import start_clamd

pytestmark = pytest.mark.django_db


@pytest.fixture
def clamd(tmp_path, settings):
    """A clamd of this test's own, so stopping it disturbs no other test."""
    server = start_clamd(tmp_path)
    settings.CLAMD_SOCKET = str(server.socket_path)
    yield server
    server.stop()


def test_the_tenant_api_publishes_openapi_and_docs(api, alpha):
    schema = api(alpha).get("/api/v1/openapi.json").json()
    assert "/api/v1/auth/login" in schema["paths"]
    assert "/api/v1/api-keys" in schema["paths"]
    docs = api(alpha).get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_the_platform_api_publishes_openapi(api):
    schema = api("localhost").get("/platform/api/v1/openapi.json").json()
    assert "/platform/api/v1/companies" in schema["paths"]


def test_health_answers_on_any_host(api):
    assert api("whatever.example.org").get("/health").json() == {"status": "ok"}


def test_readiness_reports_every_dependency_with_status_and_latency(api, clamd):
    response = api("localhost").get("/health/ready")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    for name, required in (("database", True), ("redis", True), ("clamd", False)):
        assert body["checks"][name]["status"] == "ok"
        assert body["checks"][name]["latency_ms"] >= 0
        assert body["checks"][name]["required"] is required


def test_readiness_is_degraded_while_clamd_is_down(api, clamd):
    clamd.stop()
    response = api("localhost").get("/health/ready")
    body = response.json()
    # Still serving (uploads wait in quarantine), but a monitor sees the overall verdict change.
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["clamd"]["status"] == "error"
    assert body["checks"]["database"]["status"] == body["checks"]["redis"]["status"] == "ok"

    clamd.start()
    assert api("localhost").get("/health/ready").json()["status"] == "ok"


def test_readiness_fails_when_redis_is_unreachable(api, settings):
    from conversa import redis as conversa_redis

    conversa_redis.get_redis.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        response = api("localhost").get("/health/ready")
    finally:
        conversa_redis.get_redis.cache_clear()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["redis"]["status"] == "error"
