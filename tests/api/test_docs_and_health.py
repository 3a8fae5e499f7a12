"""OpenAPI, docs pages and health endpoints."""

import pytest

pytestmark = pytest.mark.django_db


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


def test_readiness_reports_database_and_redis(api):
    body = api("localhost").get("/health/ready").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["redis"]["latency_ms"] >= 0


def test_readiness_fails_when_redis_is_unreachable(api, settings):
    from conversa import redis as conversa_redis

    conversa_redis.get_redis.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        response = api("localhost").get("/health/ready")
    finally:
        conversa_redis.get_redis.cache_clear()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "error"
