"""Every error under /api/ has the SPEC §13 body, never a Django HTML page (acceptance 5)."""

import pytest

from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


def assert_error_body(response, status: int, code: str):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "details" in error
    return error


def test_unknown_routes_are_json_404(api, alpha):
    assert_error_body(api(alpha).get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error_body(api(alpha).get("/api/v2/anything"), 404, "not_found")
    assert_error_body(api("localhost").get("/platform/api/v1/nope"), 404, "not_found")


def test_an_unknown_host_under_api_is_json_404(api):
    assert_error_body(api("ghost.localhost").get("/api/v1/auth/me"), 404, "not_found")


def test_validation_errors_name_the_fields(api, alpha):
    error = assert_error_body(
        api(alpha).post("/api/v1/auth/login", {"email": "someone@example.com"}), 422, "validation_error",
    )
    assert error["details"] == [{"field": "password", "message": "Field required"}]


def test_malformed_json_is_a_clear_error(api, alpha):
    response = api(alpha).client.post(
        "/api/v1/auth/login", data="{not json", content_type="application/json",
    )
    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_wrong_method_is_json_405(api, alpha):
    user = make_user(alpha)
    token = api(alpha).login(user.email)["access"]
    response = api(alpha, token=token).delete("/api/v1/auth/me")
    assert_error_body(response, 405, "method_not_allowed")


def test_missing_credentials_are_401(api, alpha):
    assert_error_body(api(alpha).get("/api/v1/users"), 401, "not_authenticated")
    assert_error_body(api(alpha, token="garbage").get("/api/v1/users"), 401, "token_invalid")


def test_an_unhandled_exception_is_500_with_an_error_id_and_no_traceback(api, alpha, monkeypatch):
    from apps.accounts import services

    def explode(**kwargs):
        raise RuntimeError("secret internals: /srv/app/settings.py line 42")

    monkeypatch.setattr(services, "session_start", explode)

    response = api(alpha).post(
        "/api/v1/auth/login", {"email": "someone@example.com", "password": "whatever-pass"},
    )

    error = assert_error_body(response, 500, "internal_error")
    assert len(error["error_id"]) >= 16
    body = response.content.decode()
    assert "Traceback" not in body and "secret internals" not in body
