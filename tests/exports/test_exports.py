"""Exports (SPEC §5, §12, §15.1): contents and filters, formula safety, visibility of conversations,
the audit log for admins only, and signed links that serve one company's file on its own host."""

import csv
import io
import time
from urllib.parse import urlparse

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from openpyxl import load_workbook

from apps.audit.models import AuditLog
from apps.contacts.models import ContactList, ContactListMember
from apps.conversations.services import conversation_transfer
from apps.exports.models import Export
from apps.teams.services import team_create, team_member_set
from tests.conftest import host_of
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def signed_in(api, company, role="supervisor", user=None):
    user = user or make_user(company, role=role)
    return user, api(company, token=api(company).login(user.email)["access"])


def export_now(client, django_capture_on_commit_callbacks, **body) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/v1/exports", body)
    assert started.status_code == 202, started.content
    return client.get(f"/api/v1/exports/{started.json()['id']}").json()


def fetch(company, url: str):
    parts = urlparse(url)
    return Client(HTTP_HOST=host_of(company)).get(f"{parts.path}?{parts.query}")


def csv_rows(response) -> list[list[str]]:
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_contacts_export_is_filtered_and_safe_to_open_in_a_spreadsheet(
    alpha, api, django_capture_on_commit_callbacks,
):
    make_contact(alpha, name="=HYPERLINK(\"http://evil\")", tags=["export-vip"], notes="@SUM(A1)")
    make_contact(alpha, name="Ação Ünica", tags=["export-vip"], phone="+5511972000001")
    make_contact(alpha, name="Not tagged")
    _user, client = signed_in(api, alpha)

    export = export_now(client, django_capture_on_commit_callbacks, entity="contacts", format="csv",
                        filters={"tag": "export-vip"})
    assert (export["status"], export["rows"], export["entity"]) == ("completed", 2, "contacts")
    response = fetch(alpha, export["download_url"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    rows = csv_rows(response)
    header, by_name = rows[0], {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert header[:3] == ["id", "name", "phone"]
    assert set(by_name) == {"'=HYPERLINK(\"http://evil\")", "Ação Ünica"}
    assert by_name["'=HYPERLINK(\"http://evil\")"]["notes"] == "'@SUM(A1)"
    assert by_name["Ação Ünica"]["phone"] == "+5511972000001"  # a number is not a formula


def test_an_xlsx_export_of_a_list_opens_with_openpyxl(alpha, api, django_capture_on_commit_callbacks):
    listed = make_contact(alpha, name="=1+1")
    make_contact(alpha, name="Outside the list")
    with schema_context(alpha.schema_name):
        group = ContactList.objects.create(name="Export list")
        ContactListMember.objects.create(contact_list=group, contact=listed)
    _user, client = signed_in(api, alpha)
    export = export_now(client, django_capture_on_commit_callbacks, entity="contacts", format="xlsx",
                        filters={"list": group.pk})
    response = fetch(alpha, export["download_url"])
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and values[1][1] == "'=1+1"


def test_a_supervisor_exports_only_the_conversations_they_see(alpha, api, django_capture_on_commit_callbacks):
    inbox = make_inbox(alpha)
    sara = make_user(alpha, role="supervisor")
    mine = receive(alpha, inbox, text="hers").conversation_id
    theirs = receive(alpha, inbox, text="not hers").conversation_id
    with schema_context(alpha.schema_name):
        from apps.conversations.models import Conversation

        team_a, team_b = team_create(actor=None, name="Export A"), team_create(actor=None, name="Export B")
        team_member_set(actor=None, team=team_a, user=sara)
        conversation_transfer(conversation=Conversation.objects.get(pk=mine), actor=None, team=team_a)
        conversation_transfer(conversation=Conversation.objects.get(pk=theirs), actor=None, team=team_b)
    _sara, client = signed_in(api, alpha, user=sara)
    export = export_now(client, django_capture_on_commit_callbacks, entity="conversations",
                        filters={"team": str(team_a.pk)})
    ids = [int(row[0]) for row in csv_rows(fetch(alpha, export["download_url"]))[1:]]
    assert ids == [mine]
    everything = export_now(client, django_capture_on_commit_callbacks, entity="conversations")
    ids = {int(row[0]) for row in csv_rows(fetch(alpha, everything["download_url"]))[1:]}
    assert mine in ids and theirs not in ids


def test_the_audit_log_is_exported_by_admins_only(alpha, api, django_capture_on_commit_callbacks):
    _user, supervisor = signed_in(api, alpha)
    refused = supervisor.post("/api/v1/exports", {"entity": "audit_logs", "format": "csv"})
    assert refused.status_code == 403
    _admin, admin = signed_in(api, alpha, role="admin")
    export = export_now(admin, django_capture_on_commit_callbacks, entity="audit_logs")
    assert export["status"] == "completed" and export["rows"] >= 1
    with schema_context(alpha.schema_name):
        assert AuditLog.objects.filter(action="export.created", entity_id=str(export["id"])).exists()


@pytest.mark.parametrize("body, field", [
    ({"entity": "company", "format": "csv"}, "format"),
    ({"entity": "planets", "format": "csv"}, "entity"),
    ({"entity": "contacts", "format": "pdf"}, "format"),
    ({"entity": "contacts", "filters": {"color": "red"}}, "filters.color"),
    ({"entity": "contacts", "filters": {"lead_status": "hot"}}, "filters.lead_status"),
    ({"entity": "conversations", "filters": {"from": "yesterday"}}, "filters.from"),
])
def test_bad_export_requests_are_422_and_create_nothing(alpha, api, body, field):
    _user, client = signed_in(api, alpha, role="admin")
    response = client.post("/api/v1/exports", body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["details"][0]["field"] == field
    with schema_context(alpha.schema_name):
        assert not Export.objects.exists()


def test_agents_may_not_export(alpha, api):
    _user, agent = signed_in(api, alpha, role="agent")
    assert agent.post("/api/v1/exports", {"entity": "contacts"}).status_code == 403
    assert agent.get("/api/v1/exports").status_code == 403


def test_an_export_and_its_link_are_its_authors_and_admins_never_another_companys(
    alpha, bravo, api, django_capture_on_commit_callbacks,
):
    make_contact(alpha, name="Secret Alpha Customer")
    _author, author = signed_in(api, alpha)
    export = export_now(author, django_capture_on_commit_callbacks, entity="contacts")
    _other, other = signed_in(api, alpha)
    _admin, admin = signed_in(api, alpha, role="admin")
    _bravo, bravo_admin = signed_in(api, bravo, role="admin")
    path = f"/api/v1/exports/{export['id']}"

    assert other.get(path).status_code == 404
    assert other.get(f"{path}/download").status_code == 404
    assert export["id"] not in [item["id"] for item in other.get("/api/v1/exports").json()["items"]]
    assert admin.get(path).json()["download_url"]
    assert bravo_admin.get(path).status_code == 404
    assert bravo_admin.get(f"{path}/download").status_code == 404
    # The signed link carries alpha's schema: on bravo's host it is not found.
    on_bravo = fetch(bravo, export["download_url"])
    assert on_bravo.status_code == 404 and b"Secret Alpha" not in on_bravo.content
    # Tampered with or expired, it is not found either.
    assert fetch(alpha, export["download_url"].replace("signature=", "signature=0")).status_code == 404
    expired = export["download_url"].replace("expires=", f"expires={int(time.time()) - 10}&x=")
    assert fetch(alpha, expired).status_code == 404
    assert fetch(alpha, export["download_url"]).status_code == 200
    assert author.get(f"{path}/download").status_code == 200


def test_a_key_lists_its_own_exports_and_needs_a_read_scope(alpha, api, django_capture_on_commit_callbacks):
    _key, secret = make_api_key(alpha, scopes=["contacts:read"])
    client = api(alpha, token=secret)
    export = export_now(client, django_capture_on_commit_callbacks, entity="contacts", format="xlsx")
    assert export["status"] == "completed"
    assert [item["id"] for item in client.get("/api/v1/exports").json()["items"]] == [export["id"]]
    _key, users_only = make_api_key(alpha, scopes=["users:read"])
    assert api(alpha, token=users_only).post("/api/v1/exports", {"entity": "contacts"}).status_code == 403


def test_the_author_is_notified_in_their_language_when_the_file_is_ready(
    alpha, api, django_capture_on_commit_callbacks,
):
    from apps.accounts.models import User
    from apps.notifications.models import Notification

    user = make_user(alpha, role="supervisor")
    with schema_context(alpha.schema_name):
        User.objects.filter(pk=user.pk).update(language="pt-BR")
        user.refresh_from_db()
    _user, client = signed_in(api, alpha, user=user)
    export = export_now(client, django_capture_on_commit_callbacks, entity="contacts", format="csv")

    with schema_context(alpha.schema_name):
        notices = list(Notification.objects.filter(user=user, kind="export_finished"))
    assert [notice.data for notice in notices] == [{"export_id": export["id"]}]
    assert notices[0].title.startswith("Sua exportação")


def test_a_ready_file_is_deleted_when_it_expires_and_its_row_stays(
    alpha, api, django_capture_on_commit_callbacks, monkeypatch, settings,
):
    from django.core.files.storage import default_storage

    from apps.exports.services import export_expire_file

    scheduled = []
    monkeypatch.setattr("apps.exports.tasks.export_expire.schedule",
                        lambda args=None, delay=None, **options: scheduled.append((args, delay)))
    settings.EXPORT_RETENTION_HOURS = 2
    _user, client = signed_in(api, alpha)
    export = export_now(client, django_capture_on_commit_callbacks, entity="contacts", format="csv")
    assert scheduled == [((alpha.schema_name, export["id"]), 2 * 3600)]
    with schema_context(alpha.schema_name):
        name = Export.objects.get(pk=export["id"]).file_name
        assert default_storage.exists(name)
        with django_capture_on_commit_callbacks(execute=True):
            assert export_expire_file(export_id=export["id"]) is not None
        assert export_expire_file(export_id=export["id"]) is None  # once

    assert not default_storage.exists(name)
    after = client.get(f"/api/v1/exports/{export['id']}").json()
    assert (after["status"], after["download_url"]) == ("expired", None)
    assert fetch(alpha, export["download_url"]).status_code == 404
