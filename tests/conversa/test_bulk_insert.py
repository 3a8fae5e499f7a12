"""Bulk inserts of tables with a text array go through UNNEST, with every value kept as given."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations.models import Conversation
from conversa.postgresql_backend.compiler import array_literal
from tests.fixtures.contacts import unique_phone

pytestmark = pytest.mark.django_db

AWKWARD_TAGS = [
    [],
    ["vip"],
    ['say "hi"', "back\\slash", "comma, inside", "{braces}", "NULL", "", "  spaced  ", "João 🎉"],
    ["same", "same"],
]


def test_contacts_with_tags_are_inserted_by_one_short_statement_and_read_back_as_given(alpha):
    with schema_context(alpha.schema_name):
        contacts = [
            Contact(phone=unique_phone(), name=f"Bulk {i}", tags=tags, custom_fields={"n": i, "q": 'a"b'})
            for i, tags in enumerate(AWKWARD_TAGS * 25)
        ]
        with CaptureQueriesContext(connection) as queries:
            created = Contact.objects.bulk_create(contacts)
        [insert] = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("INSERT")]
        # One placeholder per column, not per value (a VALUES list of 2,400 here).
        assert "FROM UNNEST(" in insert and " VALUES " not in insert
        stored = {contact.pk: contact for contact in Contact.objects.filter(pk__in=[c.pk for c in created])}
        assert len(stored) == 100
        for contact, tags in zip(created, AWKWARD_TAGS * 25, strict=True):
            assert contact.pk is not None
            assert stored[contact.pk].tags == tags
            assert stored[contact.pk].name == contact.name
            assert stored[contact.pk].custom_fields == contact.custom_fields


def test_a_tag_longer_than_its_column_is_refused_not_silently_cut(alpha):
    from django.db import DataError, transaction

    with schema_context(alpha.schema_name):
        rows = [Contact(phone=unique_phone(), tags=["x" * 51]), Contact(phone=unique_phone(), tags=[])]
        with pytest.raises(DataError), transaction.atomic():
            Contact.objects.bulk_create(rows)


def test_conversations_with_labels_are_inserted_through_unnest(alpha):
    with schema_context(alpha.schema_name):
        from apps.inboxes.models import Inbox

        inbox = Inbox.objects.create(name="Bulk", provider=Inbox.Provider.SANDBOX)
        contacts = Contact.objects.bulk_create([Contact(phone=unique_phone()) for _ in range(3)])
        with CaptureQueriesContext(connection) as queries:
            Conversation.objects.bulk_create([
                Conversation(contact=contact, inbox=inbox, labels=labels)
                for contact, labels in zip(contacts, [[], ["a,b"], ['q"']], strict=True)
            ])
        assert any("FROM UNNEST(" in query["sql"] for query in queries.captured_queries)
        assert sorted(tuple(c.labels) for c in Conversation.objects.filter(inbox=inbox)) == [
            (), ("a,b",), ('q"',)]


@pytest.mark.parametrize(("values", "literal"), [
    (None, None),
    ([], "{}"),
    (["a", None], '{"a",NULL}'),
    (['x"y\\z'], '{"x\\"y\\\\z"}'),
])
def test_array_literals(values, literal):
    assert array_literal(values) == literal
