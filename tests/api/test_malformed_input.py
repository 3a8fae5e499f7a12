"""Malformed input gets a 4xx with the SPEC §13 body and changes nothing, never a 500 (issue 11.6)."""

import json

import pytest
from django.test import Client

from apps.contacts.models import Contact
from tests.conftest import host_of
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


def assert_error_body(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.fixture
def agent(api, alpha):
    user = make_user(alpha)
    return user, api(alpha, token=api(alpha).login(user.email)["access"])


def test_a_language_longer_than_the_column_is_422_and_the_profile_stays(agent, alpha, in_schema):
    from apps.accounts.models import User

    user, client = agent
    error = assert_error_body(
        client.patch("/api/v1/auth/me", {"language": "x" * 20, "name": "New"}), 422, "validation_error",
    )
    assert [detail["field"] for detail in error["details"]] == ["language"]
    with in_schema(alpha.schema_name):
        stored = User.objects.get(pk=user.pk)
    assert (stored.language, stored.name) == ("en", user.name)


def test_an_unknown_language_is_422_and_a_known_one_is_kept(agent):
    _, client = agent
    assert_error_body(client.patch("/api/v1/auth/me", {"language": "klingon"}), 422, "validation_error")
    assert client.patch("/api/v1/auth/me", {"language": "es"}).json()["language"] == "es"
    # The agents' UI writes the region in upper case, as people do.
    assert client.patch("/api/v1/auth/me", {"language": "pt-BR"}).json()["language"] == "pt-BR"


def test_a_multipart_upload_without_a_boundary_is_400(agent):
    _, client = agent
    response = client.client.post(
        "/api/v1/media", data=b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\nhi\r\n--x--",
        content_type="multipart/form-data",
        headers={**client.headers},
    )
    assert_error_body(response, 400, "bad_request")


def test_a_nul_byte_in_a_search_is_422(agent):
    _, client = agent
    error = assert_error_body(client.get("/api/v1/contacts?q=ana%00"), 422, "validation_error")
    assert error["details"][0]["field"] == "q"


def test_a_nul_byte_in_a_contacts_tags_is_422_and_nothing_changes(agent, alpha, in_schema):
    _, client = agent
    contact = make_contact(alpha, tags=["vip"])
    url = f"/api/v1/contacts/{contact.pk}"

    error = assert_error_body(client.patch(url, {"tags": ["a\x00b"]}), 422, "validation_error")
    assert error["details"][0]["field"] == "tags.0"
    assert_error_body(client.post(f"{url}/tags", {"tags": ["\x00"]}), 422, "validation_error")
    assert_error_body(client.delete(f"{url}/tags/a%00b"), 422, "validation_error")
    assert_error_body(
        client.post("/api/v1/contacts", {"phone": "+5511900000001", "name": "nul\x00"}), 422,
        "validation_error",
    )
    assert_error_body(
        client.patch(url, {"custom_fields": {"k\x00": "v"}}), 422, "validation_error",
    )
    with in_schema(alpha.schema_name):
        assert Contact.objects.get(pk=contact.pk).tags == ["vip"]
        assert not Contact.objects.filter(phone="+5511900000001").exists()


def test_an_escaped_backslash_before_u0000_is_plain_text_not_a_nul(agent):
    _, client = agent
    response = client.post("/api/v1/contacts", {"phone": "+5511900000002", "name": "a\\u0000b"})
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "a\\u0000b"


def test_a_ten_megabyte_json_body_is_413(agent):
    _, client = agent
    body = json.dumps({"name": "x" * (10 * 1024 * 1024)})
    response = client.client.post(
        "/api/v1/contacts", data=body, content_type="application/json", headers=client.headers,
    )
    assert_error_body(response, 413, "request_too_large")


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("where", ["tenant", "platform"])
def test_unknown_api_paths_are_404_for_every_method_even_with_csrf_checks(method, where, alpha):
    host, path = (host_of(alpha), "/api/v1/no-such-thing") if where == "tenant" else (
        "localhost", "/platform/api/v1/no-such-thing")
    # A browser-like client: Django's CSRF check is on, and no token is sent.
    client = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    response = client.generic(method.upper(), path, data=b"{}", content_type="application/json")
    assert_error_body(response, 404, "not_found")


def test_a_time_zone_offset_postgresql_cannot_hold_is_422_and_nothing_changes(api, alpha, in_schema):
    from apps.conversations.models import Conversation
    from tests.fixtures.messaging import make_inbox, receive

    client = api(alpha, token=api(alpha).login(f"admin@{alpha.slug}.example.com")["access"])
    conversation_id = receive(alpha, make_inbox(alpha)).conversation_id

    # Valid ISO 8601 (pydantic accepts offsets up to ±23:59), beyond PostgreSQL's ±15:59.
    response = client.post(f"/api/v1/conversations/{conversation_id}/snooze",
                           {"until": "2030-01-01T00:00:00+16:00"})

    assert_error_body(response, 422, "validation_error")
    with in_schema(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).snoozed_until is None
