"""`/api/v1/contacts/imports` (SPEC §15.1): shapes, §13 refusals, and who reaches which import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from apps.contacts.models import Contact, ContactImport
from tests.conftest import host_of
from tests.fixtures.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db

CSV = b"Telefone,Nome,Email\n+5511971000001,Ana,ana@example.com\n+5511971000002,Bia,nope\n"


def bearer(api, company, role="supervisor", user=None):
    user = user or make_user(company, role=role)
    return user, f"Bearer {api(company).login(user.email)['access']}"


def upload(company, auth, path="/api/v1/contacts/imports", *, content=CSV, name="c.csv", **fields):
    client = Client(HTTP_HOST=host_of(company))
    data = {"file": SimpleUploadedFile(name, content, content_type="text/csv"), **fields}
    return client.post(path, data, headers={"Authorization": auth})


def get(company, auth, path):
    return Client(HTTP_HOST=host_of(company)).get(path, headers={"Authorization": auth})


def test_an_import_is_accepted_then_reports_its_result(alpha, api, django_capture_on_commit_callbacks):
    _user, auth = bearer(api, alpha)
    with django_capture_on_commit_callbacks(execute=True):
        started = upload(alpha, auth, default_country="BR", tags="feira", update_existing="false")
    assert started.status_code == 202, started.content
    assert set(started.json()) == {"id", "status"} and started.json()["status"] == "queued"

    body = get(alpha, auth, f"/api/v1/contacts/imports/{started.json()['id']}").json()
    assert {key: body[key] for key in ("status", "total", "processed", "imported", "updated", "skipped")} == {
        "status": "completed", "total": 2, "processed": 2, "imported": 1, "updated": 0, "skipped": 1}
    assert body["errors"] == [{"row": 3, "error": body["errors"][0]["error"]}]
    assert "nope" in body["errors"][0]["error"]

    errors = get(alpha, auth, f"/api/v1/contacts/imports/{body['id']}/errors.csv")
    assert errors.status_code == 200 and errors["Content-Type"].startswith("text/csv")
    text = b"".join(errors.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "row,error" and text.splitlines()[1].startswith("3,")

    listed = get(alpha, auth, "/api/v1/contacts/imports").json()
    assert set(listed) == {"items", "next_cursor"} and listed["items"][0]["id"] == body["id"]


def test_the_preview_shows_columns_first_rows_and_a_suggested_mapping(alpha, api):
    _user, auth = bearer(api, alpha)
    response = upload(alpha, auth, "/api/v1/contacts/imports/preview")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "format": "csv", "columns": ["Telefone", "Nome", "Email"], "total": 2,
        "rows": [["+5511971000001", "Ana", "ana@example.com"], ["+5511971000002", "Bia", "nope"]],
        "suggested_mapping": {"Telefone": "phone", "Nome": "name", "Email": "email"},
    }
    with schema_context(alpha.schema_name):
        assert not ContactImport.objects.exists()


@pytest.mark.parametrize("fields, content, status, field", [
    ({}, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 415, None),
    ({}, b"name\nAna\n", 422, "mapping"),
    ({"mapping": "{not json"}, CSV, 422, "mapping"),
    ({"list_id": "abc"}, CSV, 422, "list_id"),
    ({"update_existing": "maybe"}, CSV, 422, "update_existing"),
    ({"default_country": "Brazil"}, CSV, 422, "default_country"),
])
def test_bad_requests_get_the_13_body_and_store_nothing(alpha, api, fields, content, status, field):
    _user, auth = bearer(api, alpha, role="admin")
    response = upload(alpha, auth, content=content, **fields)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == {415: "unsupported_media_type", 422: "validation_error"}[status]
    if field:
        assert error["details"][0]["field"] == field
    with schema_context(alpha.schema_name):
        assert not ContactImport.objects.exists()


def test_a_declared_1_gb_body_is_refused_before_it_is_read(alpha, api):
    _user, auth = bearer(api, alpha, role="admin")
    client = Client(HTTP_HOST=host_of(alpha))
    response = client.post(
        "/api/v1/contacts/imports", {"file": SimpleUploadedFile("big.csv", CSV)},
        headers={"Authorization": auth}, CONTENT_LENGTH=str(1024**3),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_a_streamed_body_over_the_limit_is_cut_off_with_413(alpha, api, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 64
    _user, auth = bearer(api, alpha, role="admin")
    response = upload(alpha, auth, content=CSV * 4)
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"


def test_agents_and_read_only_keys_may_not_import(alpha, api):
    _user, agent = bearer(api, alpha, role="agent")
    assert upload(alpha, agent).status_code == 403
    assert upload(alpha, agent, "/api/v1/contacts/imports/preview").status_code == 403
    _key, secret = make_api_key(alpha, scopes=["contacts:read"])
    assert upload(alpha, f"Bearer {secret}").status_code == 403
    _key, writer = make_api_key(alpha, scopes=["contacts:write"])
    assert upload(alpha, f"Bearer {writer}").status_code == 202


def test_an_import_is_seen_by_its_author_and_admins_only_never_by_another_company(alpha, bravo, api):
    _author, auth = bearer(api, alpha)
    import_id = upload(alpha, auth).json()["id"]
    _other, other_supervisor = bearer(api, alpha)
    _admin, admin = bearer(api, alpha, role="admin")
    _bravo_admin, bravo_admin = bearer(api, bravo, role="admin")

    for path in (f"/api/v1/contacts/imports/{import_id}", f"/api/v1/contacts/imports/{import_id}/errors.csv"):
        assert get(alpha, auth, path).status_code == 200
        assert get(alpha, admin, path).status_code == 200
        assert get(alpha, other_supervisor, path).status_code == 404
        assert get(bravo, bravo_admin, path).status_code == 404
        # alpha's token on bravo's host is refused outright.
        assert get(bravo, auth, path).status_code == 401
    assert get(bravo, bravo_admin, "/api/v1/contacts/imports").json()["items"] == []
    with schema_context(bravo.schema_name):
        assert not Contact.objects.filter(phone="+5511971000001").exists()
