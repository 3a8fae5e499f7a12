"""The Content-Security-Policy header on the agents' UI and the console: no inline script, ever."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


@pytest.mark.parametrize("host_kind, path", [("tenant", "/app/login/"), ("base", "/console/login/")])
def test_pages_carry_a_policy_without_inline_script_and_their_style_has_its_nonce(alpha, host_kind, path):
    host = alpha.get_primary_domain().domain if host_kind == "tenant" else "localhost"
    response = Client(HTTP_HOST=host).get(path)

    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)
    # The one inline <style> (the brand colour) carries this response's nonce, and only it does.
    nonces = [value for value in policy["style-src"] if value.startswith("'nonce-")]
    assert len(nonces) == 1
    html = response.content.decode()
    assert re.findall(r'<style nonce="([^"]+)"', html) == [nonces[0][len("'nonce-"):-1]]
    assert "<style>" not in html and " style=" not in html
    assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\")=?)", html)


def test_each_response_gets_a_fresh_nonce(alpha):
    client = Client(HTTP_HOST=alpha.get_primary_domain().domain)
    first, second = (policy_of(client.get("/app/login/"))["style-src"] for _ in range(2))
    assert first != second


def test_the_json_api_and_its_docs_are_left_alone(api, alpha):
    assert "Content-Security-Policy" not in api(alpha).get("/api/v1/openapi.json").headers
    assert "Content-Security-Policy" not in api(alpha).get("/api/v1/docs").headers


def test_the_inbox_has_no_inline_script_handler_or_style_attribute(alpha):
    from tests.fixtures.factories import PASSWORD, make_user

    agent = make_user(alpha, role="admin")
    client = Client(HTTP_HOST=alpha.get_primary_domain().domain)
    assert client.post("/app/login/", {"email": agent.email, "password": PASSWORD}).status_code == 302
    for path in ("/app/", "/app/settings/branding/", "/app/sandbox/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy_of(response)["script-src"] == ["'self'"]
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\")=?)", html), path
        assert not re.search(r"\s(on[a-z]+|hx-on[:a-z-]*)=", html), path
        assert " style=" not in html, path
