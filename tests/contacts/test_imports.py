"""Contact imports through the services: mapping, normalisation, dedupe, update or skip, lists, tags,
custom fields, the plan's limit, and bad files that change nothing."""

import datetime as dt
import io
import os
import uuid

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context
from openpyxl import Workbook

from apps.contacts import imports
from apps.contacts.imports import (
    contact_import_run,
    contact_import_start,
    contact_imports_resume_stalled,
    suggest_mapping,
)
from apps.contacts.models import Contact, ContactImport, ContactList
from conversa.errors import DomainError
from tests.fixtures.contacts import limit_contacts, make_contact, make_custom_field
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


def xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def importer(django_capture_on_commit_callbacks):
    """`importer(company, content, **options)` → the finished ContactImport (the task runs inline)."""

    def run(company, content: bytes, *, actor=None, filename="contacts.csv", **options):
        actor = actor or make_user(company, role="supervisor")
        with schema_context(company.schema_name):
            with django_capture_on_commit_callbacks(execute=True):
                record = contact_import_start(
                    actor=actor, fileobj=io.BytesIO(content), size=len(content), filename=filename,
                    **options,
                )
            record.refresh_from_db()
            return record

    return run


def contacts_by_phone(company, *phones) -> dict[str, Contact]:
    with schema_context(company.schema_name):
        return {c.phone: c for c in Contact.objects.filter(phone__in=phones)}


def stored_import_files() -> list[str]:
    root = os.path.join(settings.MEDIA_ROOT, "tenants")
    return [os.path.join(d, f) for d, _dirs, files in os.walk(root) for f in files if "/imports/" in d]


def test_headers_in_portuguese_map_by_name_and_national_numbers_take_the_default_country(alpha, importer):
    content = "Nome;Telefone;E-mail;Etiquetas\nJoão Silva;(11) 97001-0001;joao@example.com;VIP, Loja\n"
    record = importer(alpha, content.encode("cp1252"), default_country="BR")

    assert (record.status, record.imported, record.skipped, record.errors) == ("completed", 1, 0, [])
    contact = contacts_by_phone(alpha, "+5511970010001")["+5511970010001"]
    assert (contact.name, contact.email, contact.tags) == ("João Silva", "joao@example.com", ["vip", "loja"])
    assert record.mapping == {"Nome": "name", "Telefone": "phone", "E-mail": "email", "Etiquetas": "tags"}
    assert stored_import_files() == []  # the upload is removed once the import is over


def test_spanish_and_english_synonyms_are_suggested_once_each(alpha):
    with schema_context(alpha.schema_name):
        mapping = suggest_mapping(["Teléfono", "Nombre", "Mobile", "Ciudad", "Whatever"])
    assert mapping == {"Teléfono": "phone", "Nombre": "name", "Mobile": "", "Ciudad": "city", "Whatever": ""}


def test_repeated_and_invalid_rows_are_skipped_with_their_errors(alpha, importer):
    content = (
        "phone,name,email\n"
        "+5511970020001,Ana,ana@example.com\n"
        "+55 11 97002-0001,Ana again,\n"
        "12,Too short,\n"
        ",No phone,\n"
        "+5511970020002,Bad mail,not-an-email\n"
        "+5511970020003,Bia,\n"
    )
    record = importer(alpha, content.encode())

    counts = (record.total, record.processed, record.imported, record.updated, record.skipped)
    assert counts == (6, 6, 2, 0, 4)
    assert [error["row"] for error in record.errors] == [3, 4, 5, 6]
    assert "row 2" in record.errors[0]["error"]
    assert set(contacts_by_phone(alpha, "+5511970020001", "+5511970020003")) == {
        "+5511970020001", "+5511970020003"}


def test_existing_contacts_are_skipped_untouched_unless_asked_to_update(alpha, importer):
    make_contact(alpha, phone="+5511970030001", name="Old name", tags=["old"], city="Recife")
    content = b"phone,name,tags\n+5511970030001,New name,new\n+5511970030002,Fresh,\n"

    skipped = importer(alpha, content, tags=["import-1"])
    assert (skipped.imported, skipped.updated, skipped.skipped) == (1, 0, 1)
    old = contacts_by_phone(alpha, "+5511970030001")["+5511970030001"]
    assert (old.name, old.tags) == ("Old name", ["old"])

    updated = importer(alpha, content, update_existing=True, tags=["import-2"])
    assert (updated.imported, updated.updated, updated.skipped) == (0, 2, 0)
    found = contacts_by_phone(alpha, "+5511970030001", "+5511970030002")
    # Cells overwrite, tags add up, a field the file has no column for stays.
    assert (found["+5511970030001"].name, found["+5511970030001"].city) == ("New name", "Recife")
    assert found["+5511970030001"].tags == ["old", "new", "import-2"]
    assert found["+5511970030002"].tags == ["import-1", "import-2"]


def test_imported_contacts_join_the_list_with_the_tags_and_typed_custom_fields(alpha, importer):
    make_custom_field(alpha, key="orders", type="number")
    make_custom_field(alpha, key="vip", type="bool")
    make_custom_field(alpha, key="plan", type="choice", choices=["Gold", "Silver"])
    with schema_context(alpha.schema_name):
        target = ContactList.objects.create(name="Imported leads")
    content = (
        b"Phone,Orders,VIP,Plan,Ignored\n"
        b"+5511970040001,\"12,5\",sim,gold,x\n"
        b"+5511970040002,3,no,Silver,y\n"
        b"+5511970040003,many,yes,Gold,z\n"
    )
    record = importer(
        alpha, content, list_id=target.pk, tags=["Feira 2025"],
        mapping={"Phone": "phone", "Orders": "custom.orders", "VIP": "custom.vip", "Plan": "custom.plan",
                 "Ignored": ""},
    )

    assert (record.imported, record.skipped) == (2, 1)
    assert record.errors[0]["row"] == 4 and "Orders" in record.errors[0]["error"]
    found = contacts_by_phone(alpha, "+5511970040001", "+5511970040002")
    assert found["+5511970040001"].custom_fields == {"orders": 12.5, "vip": True, "plan": "Gold"}
    assert found["+5511970040002"].custom_fields == {"orders": 3, "vip": False, "plan": "Silver"}
    assert found["+5511970040001"].tags == ["feira 2025"]
    with schema_context(alpha.schema_name):
        members = set(target.memberships.values_list("contact__phone", flat=True))
    assert members == {"+5511970040001", "+5511970040002"}


def test_rows_past_the_plans_contact_limit_are_errors(make_company, importer):
    company = limit_contacts(make_company(), 3)
    make_contact(company)
    rows = "".join(f"+55119700500{n:02d},Lead {n}\n" for n in range(4))
    record = importer(company, f"phone,name\n{rows}".encode())

    assert (record.imported, record.skipped) == (2, 2)
    assert [e["row"] for e in record.errors] == [4, 5]
    assert "limit" in record.errors[0]["error"]
    with schema_context(company.schema_name):
        assert Contact.objects.count() == 3


def test_an_xlsx_with_numbers_as_phones_and_blank_rows(alpha, importer):
    content = xlsx([["Telefone", "Nome", None], [5511970060001, "Carla", None], [None, None, None],
                    [5511970060002.0, "Davi", None]])
    record = importer(alpha, content, filename="planilha.xlsx")

    assert (record.format, record.status, record.imported, record.total) == ("xlsx", "completed", 2, 2)
    assert set(contacts_by_phone(alpha, "+5511970060001", "+5511970060002")) == {
        "+5511970060001", "+5511970060002"}


def test_a_resumed_import_continues_after_the_rows_already_committed(alpha, importer):
    content = b"phone\n+5511970070001\n+5511970070002\n+5511970070003\n"
    actor = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        record = contact_import_start(actor=actor, fileobj=io.BytesIO(content), size=len(content),
                                      filename="c.csv")  # not committed: the task is not queued
        # As if a worker had died after committing the first row's batch.
        ContactImport.objects.filter(pk=record.pk).update(status="running", processed=1, imported=1)
        contact_import_run(import_id=record.pk)
        record.refresh_from_db()
        phones = set(Contact.objects.filter(phone__startswith="+551197007").values_list("phone", flat=True))
    assert (record.status, record.processed, record.imported) == ("completed", 3, 3)
    assert phones == {"+5511970070002", "+5511970070003"}


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 64


@pytest.mark.parametrize("content, filename, status, options", [
    (PNG, "contacts.csv", 415, {}),
    (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "contacts.csv", 415, {}),
    (xlsx([["phone"], ["+5511970080001"]])[:300], "contacts.xlsx", 422, {}),
    (b"phone,name\n+5511970080001,Jo\x81\x8d\x90\n", "contacts.csv", 422, {}),
    (b"", "contacts.csv", 422, {}),
    (b"name,email\nAna,ana@example.com\n", "contacts.csv", 422, {}),
    (b"phone\n+5511970080001\n", "contacts.csv", 422, {"default_country": "XX"}),
    (b"phone\n+5511970080001\n", "contacts.csv", 422, {"mapping": {"phone": "shoe_size"}}),
    (b"phone\n+5511970080001\n", "contacts.csv", 422, {"list_id": 987654}),
])
def test_a_bad_file_or_option_is_refused_and_nothing_changes(alpha, content, filename, status, options,
                                                              django_capture_on_commit_callbacks):
    actor = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        contacts_before, imports_before = Contact.objects.count(), ContactImport.objects.count()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(DomainError) as refused:
                contact_import_start(actor=actor, fileobj=io.BytesIO(content), size=len(content),
                                     filename=filename, **options)
        assert (Contact.objects.count(), ContactImport.objects.count()) == (contacts_before, imports_before)
    assert refused.value.status == status
    assert callbacks == []  # no task queued, no frame
    assert stored_import_files() == []


def test_a_file_over_the_size_limit_is_refused_with_413(alpha, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 10
    actor = make_user(alpha, role="admin")
    content = b"phone\n+5511970090001\n"
    with schema_context(alpha.schema_name), pytest.raises(DomainError) as refused:
        contact_import_start(actor=actor, fileobj=io.BytesIO(content), size=len(content), filename="c.csv")
    assert (refused.value.status, refused.value.code) == (413, "file_too_large")


def test_agents_may_not_import(alpha):
    agent = make_user(alpha, role="agent")
    content = b"phone\n+5511970100001\n"
    with schema_context(alpha.schema_name), pytest.raises(DomainError) as refused:
        contact_import_start(actor=agent, fileobj=io.BytesIO(content), size=len(content), filename="c.csv")
    assert refused.value.status == 403


def test_an_import_whose_worker_died_is_resumed_by_the_minutes_sweep(alpha):
    content = b"phone\n+5511970071001\n+5511970071002\n+5511970071003\n"
    actor = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        record = contact_import_start(actor=actor, fileobj=io.BytesIO(content), size=len(content),
                                      filename="c.csv")  # not committed: the task is not queued
        # Its worker died after the first batch, longer ago than IMPORT_STALE_SECONDS.
        long_ago = timezone.now() - dt.timedelta(seconds=settings.IMPORT_STALE_SECONDS + 5)
        ContactImport.objects.filter(pk=record.pk).update(
            status="running", processed=1, imported=1, runner=uuid.uuid4(), heartbeat_at=long_ago)
        assert contact_imports_resume_stalled() == 1  # the task runs inline in the tests
        record.refresh_from_db()
        assert (record.status, record.processed, record.imported) == ("completed", 3, 3)
        assert contact_imports_resume_stalled() == 0


def test_a_live_run_keeps_its_import_and_a_run_that_was_taken_over_stops_without_counting(alpha, monkeypatch):
    content = b"phone\n+5511970072001\n+5511970072002\n"
    actor = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        record = contact_import_start(actor=actor, fileobj=io.BytesIO(content), size=len(content),
                                      filename="c.csv")
        ContactImport.objects.filter(pk=record.pk).update(
            status="running", runner=uuid.uuid4(), heartbeat_at=timezone.now())
        assert contact_import_run(import_id=record.pk) is None  # a duplicate task leaves it alone
        assert contact_imports_resume_stalled() == 0

        # A run thought dead is overtaken between reading its rows and committing them.
        ContactImport.objects.filter(pk=record.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
        rows_of = imports.import_files.iter_rows

        def rows_then_overtaken(*args, **kwargs):
            yield from rows_of(*args, **kwargs)
            overtaken = {"runner": uuid.uuid4(), "heartbeat_at": timezone.now()}
            ContactImport.objects.filter(pk=record.pk).update(**overtaken)

        monkeypatch.setattr(imports.import_files, "iter_rows", rows_then_overtaken)
        assert contact_import_run(import_id=record.pk) is None
        record.refresh_from_db()
        assert (record.status, record.processed, record.imported) == ("running", 0, 0)
        assert not Contact.objects.filter(phone__startswith="+551197007200").exists()
