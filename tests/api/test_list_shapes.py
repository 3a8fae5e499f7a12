"""Every list of the APIs has SPEC §15's shape `{"items": [...], "next_cursor": …}` (issue 11, item 8)."""

import pytest

pytestmark = pytest.mark.django_db


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _lists(spec: dict) -> tuple[list[str], list[str]]:
    """(operations answering a bare array, operations answering a page) of a GET-only look."""
    bare, pages = [], []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        content = get.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
        if not content:
            continue
        body = _resolve(content["schema"], spec)
        if body.get("type") == "array":
            bare.append(path)
        elif "items" in body.get("properties", {}):
            pages.append(path)
            assert {"items", "next_cursor"} <= set(body["properties"]), path
            assert _resolve(body["properties"]["items"], spec).get("type") == "array", path
    return bare, pages


@pytest.mark.parametrize("host, url", [
    ("alpha", "/api/v1/openapi.json"),
    ("localhost", "/platform/api/v1/openapi.json"),
])
def test_no_list_answers_a_bare_array(api, alpha, host, url):
    spec = api(alpha if host == "alpha" else host).get(url).json()
    bare, pages = _lists(spec)
    assert bare == []
    assert pages, "the look found no lists at all"


def test_a_list_route_answers_items_and_next_cursor_and_pages_through(api, alpha):
    from tests.fixtures.factories import make_user

    admin = make_user(alpha, role="admin")
    client = api(alpha, token=api(alpha).login(admin.email)["access"])
    for path in ("/api/v1/inboxes", "/api/v1/quick-replies", "/api/v1/users?limit=1"):
        body = client.get(path).json()
        assert set(body) == {"items", "next_cursor"}, path
    cursor = client.get("/api/v1/users?limit=1").json()["next_cursor"]
    second = client.get(f"/api/v1/users?limit=1&cursor={cursor}")
    assert second.status_code == 200 and len(second.json()["items"]) == 1
