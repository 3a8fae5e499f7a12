"""Contact services: phones, duplicates, soft delete, custom fields, tags, plan limits, events."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.contacts import events as contact_events
from apps.contacts.models import Contact
from apps.contacts.phones import normalize_phone
from apps.contacts.services import (
    contact_add_tags,
    contact_create,
    contact_delete,
    contact_get_or_create_for_inbound,
    contact_record_message,
    contact_remove_tags,
    contact_set_opt_out,
    contact_update,
    custom_field_create,
    custom_field_delete,
)
from conversa import events
from conversa.errors import Conflict, ValidationFailed
from tenants.limits import PlanLimitReached
from tests.fixtures.contacts import limit_contacts, make_contact, make_custom_field, unique_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    """Events delivered to the bus while the test runs."""
    seen = []
    events.subscribe(seen.append)
    yield seen
    events._subscribers.remove(seen.append)


def fields_of(error) -> list[str]:
    return [detail["field"] for detail in error.value.details]


# --- phones -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "+5511987654321", "5511987654321", "+55 (11) 98765-4321", " 55 11 98765 4321 ", "005511987654321",
])
def test_phones_in_any_usual_shape_become_e164(raw):
    assert normalize_phone(raw) == "+5511987654321"


@pytest.mark.parametrize("raw", ["", "   ", "123", "+5511887654321", "not a phone", "whatsapp:+5511987654321",
                                 "+55 11 98765 4321 55 11 98765 4321 00"])
def test_invalid_phones_are_refused_with_a_message(raw):
    with pytest.raises(ValueError, match=r"\w"):
        normalize_phone(raw)


def test_inbound_numbers_only_need_a_possible_length():
    # +1 555 numbers are not in service per libphonenumber, yet a provider may still deliver from one.
    with pytest.raises(ValueError):
        normalize_phone("+15550001111")
    assert normalize_phone("+15550001111", strict=False) == "+15550001111"
    with pytest.raises(ValueError):
        normalize_phone("+123", strict=False)


# --- create, update, delete ---------------------------------------------------------------------


def test_a_contact_is_created_with_a_normalised_phone_and_clean_fields(alpha, in_schema):
    with in_schema(alpha.schema_name):
        contact = contact_create(
            phone="+55 (11) 98765-4321", name="  Ana  ", email="ana@example.com", country="br",
            tags=["VIP ", "vip", "Lead"], time_zone="America/Sao_Paulo",
        )
        contact.refresh_from_db()
    assert (contact.phone, contact.name, contact.country) == ("+5511987654321", "Ana", "BR")
    assert contact.tags == ["vip", "lead"]
    assert contact.lead_status == "new" and contact.opted_out_at is None


def test_a_phone_in_use_is_a_conflict_in_any_format(alpha, in_schema):
    with in_schema(alpha.schema_name):
        contact_create(phone="+5511987654321")
        with pytest.raises(Conflict) as error:
            contact_create(phone="55 11 98765-4321", name="Copy")
        assert fields_of(error) == ["phone"]
        other = contact_create(phone=unique_phone())
        with pytest.raises(Conflict):
            contact_update(contact=other, phone="+5511987654321")
        assert Contact.objects.filter(phone="+5511987654321").count() == 1


@pytest.mark.parametrize(("fields", "field"), [
    ({"phone": "12"}, "phone"),
    ({"email": "not-an-email"}, "email"),
    ({"avatar_url": "ftp//nope"}, "avatar_url"),
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"lead_status": "hot"}, "lead_status"),
    ({"tags": ["x" * 51]}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"name": "n" * 201}, "name"),
])
def test_invalid_fields_are_422_naming_the_field_and_nothing_is_written(alpha, in_schema, fields, field):
    with in_schema(alpha.schema_name):
        before = Contact.all_objects.count()
        with pytest.raises(ValidationFailed) as error:
            contact_create(**{"phone": unique_phone(), **fields})
        assert field in fields_of(error)
        assert Contact.all_objects.count() == before


def test_soft_delete_hides_the_contact_and_frees_its_phone(alpha, in_schema):
    with in_schema(alpha.schema_name):
        old = contact_create(phone="+5511987654321", name="Old")
        contact_delete(contact=old)
        new = contact_create(phone="+5511987654321", name="New")
        assert list(Contact.objects.filter(phone="+5511987654321")) == [new]
        assert Contact.all_objects.get(pk=old.pk).deleted_at is not None
        assert Contact.all_objects.filter(phone="+5511987654321").count() == 2


def test_opting_out_records_when_and_opting_in_clears_it(alpha, in_schema):
    contact = make_contact(alpha)
    with in_schema(alpha.schema_name):
        out = contact_set_opt_out(contact=contact, opted_out=True)
        assert out.opted_out and out.opted_out_at is not None
        back = contact_set_opt_out(contact=contact, opted_out=False)
        assert not back.opted_out and back.opted_out_at is None


def test_tags_are_added_once_and_removed_case_blind(alpha, in_schema):
    contact = make_contact(alpha, tags=["lead"])
    with in_schema(alpha.schema_name):
        contact = contact_add_tags(contact=contact, tags=["VIP", "lead", "São Paulo"])
        assert contact.tags == ["lead", "vip", "são paulo"]
        contact = contact_remove_tags(contact=contact, tags=["LEAD", "absent"])
        assert Contact.objects.get(pk=contact.pk).tags == ["vip", "são paulo"]
        with pytest.raises(ValidationFailed):
            contact_add_tags(contact=contact, tags=[f"t{n}" for n in range(60)])


# --- custom fields --------------------------------------------------------------------------------

def test_custom_field_values_are_checked_against_their_definitions(alpha, in_schema):
    for key, kind in (("plan", "choice"), ("seats", "number"), ("since", "date"), ("vip", "bool"),
                      ("note", "text")):
        make_custom_field(alpha, key=key, type=kind, choices=["basic", "gold"] if kind == "choice" else None)
    good = {"plan": "gold", "seats": 3, "since": "2024-02-29", "vip": True, "note": "likes mornings"}
    with in_schema(alpha.schema_name):
        contact = contact_create(phone=unique_phone(), custom_fields=good)
        assert Contact.objects.get(pk=contact.pk).custom_fields == good

        with pytest.raises(ValidationFailed) as error:
            contact_create(phone=unique_phone(), custom_fields={
                "plan": "platinum", "seats": "3", "since": "2023-02-29", "vip": "yes", "nope": 1,
            })
        assert sorted(fields_of(error)) == [
            "custom_fields.nope", "custom_fields.plan", "custom_fields.seats", "custom_fields.since",
            "custom_fields.vip",
        ]
        with pytest.raises(ValidationFailed) as error:
            contact_update(contact=contact, custom_fields={"seats": True})
        assert fields_of(error) == ["custom_fields.seats"]


def test_custom_fields_merge_on_update_and_null_removes_a_key(alpha, in_schema):
    make_custom_field(alpha, key="a")
    make_custom_field(alpha, key="b")
    contact = make_contact(alpha, custom_fields={"a": "1", "b": "2"})
    with in_schema(alpha.schema_name):
        contact = contact_update(contact=contact, custom_fields={"a": "one", "b": None})
        assert Contact.objects.get(pk=contact.pk).custom_fields == {"a": "one"}


def test_deleting_a_definition_removes_its_values_everywhere(alpha, in_schema):
    definition = make_custom_field(alpha, key="score")
    make_custom_field(alpha, key="other")
    live = make_contact(alpha, custom_fields={"score": "x", "other": "y"})
    gone = make_contact(alpha, custom_fields={"score": "z"})
    with in_schema(alpha.schema_name):
        contact_delete(contact=gone)
        custom_field_delete(definition=definition)
        assert Contact.objects.get(pk=live.pk).custom_fields == {"other": "y"}
        assert Contact.all_objects.get(pk=gone.pk).custom_fields == {}
        # the key is free again, for another type
        custom_field_create(key="score", label="Score", type="number")


def test_definitions_are_checked(alpha, in_schema):
    with in_schema(alpha.schema_name):
        custom_field_create(key="tier", label="Tier", type="choice", choices=["a", "b", "a"])
        with pytest.raises(Conflict):
            custom_field_create(key="tier", label="Again", type="text")
        for bad in ({"key": "Bad Key"}, {"type": "colour"}, {"type": "choice", "choices": []},
                    {"type": "text", "choices": ["x"]}, {"label": ""}):
            with pytest.raises(ValidationFailed):
                custom_field_create(**{"key": "ok", "label": "Ok", "type": "text", **bad})


# --- plan limit and inbound contacts --------------------------------------------------------------

def test_max_contacts_refuses_new_contacts_but_never_inbound_ones(make_company, in_schema):
    company = limit_contacts(make_company(), 2)
    first = make_contact(company)
    make_contact(company)
    with in_schema(company.schema_name):
        with pytest.raises(PlanLimitReached) as error:
            contact_create(phone=unique_phone())
        assert error.value.details == {"limit": 2, "used": 2, "resource": "max_contacts"}

        contact, created = contact_get_or_create_for_inbound(phone=unique_phone(), name="Customer")
        assert created and Contact.objects.count() == 3

        # a deleted contact frees its place (once under the limit again)
        contact_delete(contact=first)
        contact_delete(contact=contact)
        contact_create(phone=unique_phone())


def test_inbound_contacts_are_found_again_and_only_nameless_ones_get_the_name(alpha, in_schema):
    with in_schema(alpha.schema_name):
        contact, created = contact_get_or_create_for_inbound(phone="5511987654321")
        assert created and contact.phone == "+5511987654321" and contact.name == ""
        again, created = contact_get_or_create_for_inbound(phone="+5511987654321", name="Maria  Silva")
        assert not created and again.pk == contact.pk and again.name == "Maria Silva"
        contact_update(contact=again, name="Maria (customer)")
        again, _ = contact_get_or_create_for_inbound(phone="+5511987654321", name="maria")
        assert again.name == "Maria (customer)"


def data_queries(captured) -> list[str]:
    """The statements that read or write tables: not django-tenants' SET search_path, not savepoints
    (pytest-django's transaction turns the service's atomic() into one; in production it is BEGIN)."""
    skip = ("SET ", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
    return [query["sql"] for query in captured if not query["sql"].startswith(skip)]


def test_finding_a_known_inbound_contact_is_one_query(alpha, in_schema):
    phone = unique_phone()
    make_contact(alpha, phone=phone, name="Known")
    with in_schema(alpha.schema_name), CaptureQueriesContext(connection) as queries:
        contact, created = contact_get_or_create_for_inbound(phone=phone, name="Other")
    assert not created and contact.name == "Known"
    assert len(data_queries(queries.captured_queries)) == 1


def test_activity_times_never_move_backwards(alpha, in_schema):
    contact = make_contact(alpha)
    late = timezone.now()
    early = late - dt.timedelta(hours=1)
    with in_schema(alpha.schema_name):
        contact_record_message(contact=contact, inbound=True, at=late)
        contact_record_message(contact=contact, inbound=True, at=early)
        contact_record_message(contact=contact, inbound=False, at=early)
        contact.refresh_from_db()
    assert contact.last_inbound_at == late and contact.last_contact_at == late


def test_every_new_company_gets_the_contact_indexes(make_company, in_schema):
    # Companies are cloned from the template schema: the hand-written trigram indexes must come along.
    company = make_company()
    with in_schema(company.schema_name), connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'contacts_contact'",
            [company.schema_name],
        )
        names = {row[0] for row in cursor.fetchall()}
    assert names >= {
        "contacts_contact_phone_unique_active", "contacts_contact_tags_gin", "contacts_contact_custom_gin",
        "contacts_contact_name_trgm", "contacts_contact_email_trgm", "contacts_contact_phone_up_trgm",
    }


# --- events ---------------------------------------------------------------------------------------

def test_events_are_published_after_commit_only(
    alpha, in_schema, received, django_capture_on_commit_callbacks,
):
    with in_schema(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(phone=unique_phone(), name="Ana")
        assert received == []
    with in_schema(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, name="Ana Maria", lead_status="qualified")
        contact_update(contact=contact, name="Ana Maria")  # no change, no event
        contact_delete(contact=contact)
    changed = ["lead_status", "name"]
    assert [(e.name, e.schema_name, e.data) for e in received] == [
        ("contact.created", alpha.schema_name, {"contact_id": contact.pk}),
        ("contact.updated", alpha.schema_name, {"contact_id": contact.pk, "changed": changed}),
        ("contact.deleted", alpha.schema_name, {"contact_id": contact.pk}),
    ]


def test_a_refused_write_publishes_nothing(alpha, in_schema, received, django_capture_on_commit_callbacks):
    with in_schema(alpha.schema_name), django_capture_on_commit_callbacks(execute=True) as callbacks:
        contact_create(phone="+5511987654321")
        with pytest.raises(Conflict):
            contact_create(phone="+5511987654321")
        try:
            with transaction.atomic():
                contact_create(phone=unique_phone())
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert len(callbacks) == 1 and [e.name for e in received] == ["contact.created"]


def test_realtime_frames_are_built_from_the_current_row_for_the_sockets_showing_the_contact(alpha, in_schema):
    contact = make_contact(alpha, name="Ana", tags=["vip"])
    event = events.Event(name=contact_events.CONTACT_UPDATED, schema_name=alpha.schema_name,
                         data={"contact_id": contact.pk})
    with in_schema(alpha.schema_name):
        contact_update(contact=contact, name="Ana Maria")
        [(data, audience)] = contact_events.contact_frames([event])
        assert audience == [f"contact.{contact.pk}"]
        assert {k: data[k] for k in ("id", "name", "phone", "tags")} == {
            "id": contact.pk, "name": "Ana Maria", "phone": contact.phone, "tags": ["vip"],
        }
        contact_delete(contact=contact)
        assert contact_events.contact_frames([event]) == [None]
        deleted, audience = contact_events.contact_deleted_frame(event)
        assert deleted["id"] == contact.pk and audience == [f"contact.{contact.pk}"]


# --- NUL characters (PostgreSQL refuses them in text) --------------------------------------------

@pytest.mark.parametrize("fields", [
    {"name": "Ana\x00"}, {"tags": ["vip", "a\x00"]}, {"notes": "\x00"}, {"city": "S\x00o Paulo"},
])
def test_a_nul_character_in_any_field_is_a_422_and_nothing_is_written(alpha, in_schema, fields):
    with in_schema(alpha.schema_name):
        contact = contact_create(phone=unique_phone(), name="Ana")
        with pytest.raises(ValidationFailed) as refused:
            contact_update(contact=contact, **fields)
        assert refused.value.details[0]["field"] == next(iter(fields))
        with pytest.raises(ValidationFailed):
            contact_create(phone=unique_phone(), **fields)
        contact.refresh_from_db()
        assert (contact.name, contact.tags, contact.notes, contact.city) == ("Ana", [], "", "")


def test_a_nul_in_a_customers_profile_name_is_dropped_and_the_contact_kept(alpha, in_schema):
    with in_schema(alpha.schema_name):
        contact, created = contact_get_or_create_for_inbound(phone=unique_phone(), name="Ma\x00ria")
    assert created and contact.name == "Maria"
