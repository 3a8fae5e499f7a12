"""Contacts → Import and Exports in the agents' UI (server side): the pages, the mapping fragment,
starting an import from the form, and who reaches which import and export."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.exports.models import Export
from tests.fixtures.factories import make_user
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db

CSV = "Nome;Celular;Cidade\nJoana;11 97300-0001;Recife\nLuís;11 97300-0002;Natal\n".encode()


def test_the_import_form_previews_the_columns_and_starts_the_import(
    alpha, bravo, django_capture_on_commit_callbacks,
):
    sara = make_user(alpha, role="supervisor")
    browser = signed_in(alpha, sara)
    assert b'id="contacts-import"' in browser.get("/app/contacts/").content
    assert browser.get("/app/contacts/import/").status_code == 200

    preview = browser.post("/app/contacts/import/preview/", {"file": SimpleUploadedFile("l.csv", CSV)},
                           HX_Request="true").content.decode()
    assert 'name="column_1" value="Celular"' in preview
    assert '<option value="phone" selected>' in preview and "Joana" in preview

    with django_capture_on_commit_callbacks(execute=True):
        started = browser.post("/app/contacts/import/", {
            "file": SimpleUploadedFile("l.csv", CSV), "column_0": "Nome", "map_0": "name",
            "column_1": "Celular", "map_1": "phone", "column_2": "Cidade", "map_2": "",
            "default_country": "BR", "existing": "skip", "tags": "recife",
        })
    assert started.status_code == 302
    page = browser.get(started["Location"]).content.decode()
    assert 'data-status="completed"' in page and 'value="100"' in page
    with schema_context(alpha.schema_name):
        joana = Contact.objects.get(phone="+5511973000001")
    assert (joana.name, joana.city, joana.tags) == ("Joana", "", ["recife"])

    # Another supervisor, an agent and another company's admin never reach it.
    for other in (signed_in(alpha, make_user(alpha, role="supervisor")),
                  signed_in(alpha, make_user(alpha, role="agent")),
                  signed_in(bravo, make_user(bravo, role="admin"))):
        assert other.get(started["Location"]).status_code == 404
        assert other.get(f"{started['Location']}errors.csv").status_code == 404


def test_a_bad_file_shows_why_on_the_form(alpha):
    browser = signed_in(alpha, make_user(alpha, role="admin"))
    response = browser.post("/app/contacts/import/", {"file": SimpleUploadedFile("x.csv", b"name\nAna\n")})
    assert response.status_code == 422
    assert "phone numbers" in response.content.decode()


def test_agents_have_no_import_page_nor_exports(alpha):
    browser = signed_in(alpha, make_user(alpha, role="agent"))
    assert browser.get("/app/contacts/import/").status_code == 404
    assert browser.get("/app/exports/").status_code == 404
    assert b'id="contacts-import"' not in browser.get("/app/contacts/").content


def test_export_from_the_contacts_page_keeps_the_filters_and_is_downloaded_by_its_author_only(
    alpha, bravo, django_capture_on_commit_callbacks,
):
    author = signed_in(alpha, make_user(alpha, role="supervisor"))
    with django_capture_on_commit_callbacks(execute=True):
        asked = author.post("/app/exports/", {"entity": "contacts", "format": "csv", "q": "joana",
                                              "lead_status": "new", "tag": ""}, HX_Request="true")
    assert asked.status_code == 204 and asked["HX-Redirect"] == "/app/exports/"
    with schema_context(alpha.schema_name):
        export = Export.objects.latest("id")
    assert (export.status, export.filters) == ("completed", {"q": "joana", "lead_status": "new"})
    listing = author.get("/app/exports/").content.decode()
    assert f"/app/exports/{export.pk}/download/" in listing
    assert author.get(f"/app/exports/{export.pk}/download/").status_code == 200
    assert signed_in(alpha, make_user(alpha, role="supervisor")).get(
        f"/app/exports/{export.pk}/download/").status_code == 404
    assert signed_in(bravo, make_user(bravo, role="admin")).get(
        f"/app/exports/{export.pk}/download/").status_code == 404
