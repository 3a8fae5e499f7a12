"""The inbox built for triage: previews in rows and a search that ignores accents and reads messages."""

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.contacts.selectors import contact_list
from apps.conversations import outbound
from apps.conversations.inbound_bulk import messages_receive
from apps.conversations.models import Conversation
from apps.conversations.preview import message_preview, preview_parts
from apps.conversations.selectors import conversation_list
from apps.conversations.services import conversation_assign
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import inbound, make_inbox, new_phone, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def preview_of(company, conversation_id) -> str:
    with schema_context(company.schema_name):
        return Conversation.objects.get(pk=conversation_id).last_message_preview


def test_the_preview_is_the_last_message_on_one_line_whichever_path_wrote_it(alpha):
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin")
    phone = new_phone()
    first = receive(alpha, inbox, phone=phone, text="Olá!\n\n  Meu pedido   não chegou")
    assert preview_of(alpha, first.conversation_id) == "Olá! Meu pedido não chegou"
    receive(alpha, inbox, phone=phone, text="x" * 300)
    long = preview_of(alpha, first.conversation_id)
    assert len(long) == 120 and long.endswith("…")
    with schema_context(alpha.schema_name):
        messages_receive([(inbox, inbound(phone=phone, text="from the bulk path"))])
        assert Conversation.objects.get(pk=first.conversation_id).last_message_preview == "from the bulk path"
        other = new_phone()
        messages_receive([(inbox, inbound(phone=other, text="a new one, in bulk"))])
        assert Conversation.objects.get(contact__phone=other).last_message_preview == "a new one, in bulk"
        conversation = Conversation.objects.get(pk=first.conversation_id)
        outbound.message_send(conversation=conversation, author=admin, text="We are on it")
    assert preview_of(alpha, first.conversation_id) == "We are on it"


def test_a_file_shows_its_kind_in_the_readers_language():
    stored = message_preview(kind="image", text="")
    assert "image" not in stored.replace("\u2063image\u2063", "")  # only the marker names the kind
    from django.utils import translation

    with translation.override("en"):
        assert preview_parts(stored) == ("📷 Photo", "")
    with translation.override("es"):
        assert preview_parts(stored)[0] == "📷 Foto"
    with translation.override("pt-br"):
        document = message_preview(kind="document", text="nota.pdf")
        assert preview_parts(document) == ("📄 Documento", "nota.pdf")
    assert preview_parts("Just text") == ("", "Just text")


def test_the_row_shows_the_preview(alpha):
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin")
    receive(alpha, inbox, text="Where is my parcel?", name="Paula Preview")
    page = signed_in(alpha, admin).get("/app/?tab=all")
    html = page.content.decode()
    row = html[html.index("Paula Preview"):]
    assert 'class="preview' in row[:2000] and "Where is my parcel?" in row[:2000]


def names(conversations) -> set[str]:
    return {c.contact.name for c in conversations}


@pytest.fixture
def people(alpha):
    inbox = make_inbox(alpha)
    receive(alpha, inbox, text="Bom dia", name="João Araújo")
    receive(alpha, inbox, text="O código é ÁGUA-42, não recebi", name="Maria Silva")
    receive(alpha, inbox, text="hello", name="Jo Short")
    return inbox


@pytest.mark.parametrize("q", ["joao", "JOÃO", "araujo", "Araújo", "ão ara"])
def test_search_ignores_accents_and_case_in_names(alpha, people, q):
    admin = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        assert "João Araújo" in names(conversation_list(admin, q=q))
        assert "João Araújo" in {c.name for c in contact_list(q=q)}
        assert "Maria Silva" not in names(conversation_list(admin, q=q))


def test_search_finds_message_text_without_accents(alpha, people):
    admin = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        assert names(conversation_list(admin, q="agua-42")) == {"Maria Silva"}
        assert names(conversation_list(admin, q="nao recebi")) == {"Maria Silva"}
        # A wildcard is a character like any other.
        assert names(conversation_list(admin, q="%")) == set()


def test_search_by_message_text_respects_visibility(alpha, people):
    agent = make_user(alpha)
    other = make_user(alpha)
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(contact__name="Maria Silva")
        conversation_assign(conversation=conversation, assignee=other, actor=None)
        assert names(conversation_list(agent, q="agua")) == set()
        assert names(conversation_list(other, q="agua")) == {"Maria Silva"}


def test_search_uses_the_trigram_indexes(alpha, people):
    admin = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = conversation_list(admin, q="araujo").explain()
    assert "contacts_contact_name_unaccent_trgm" in plan
    assert "conversations_message_text_unaccent_trgm" in plan
    assert "conversations_conversation_subject_unaccent_trgm" in plan


def test_the_search_box_finds_accented_names_and_message_text_on_the_page(alpha, people):
    admin = make_user(alpha, role="admin")
    browser = signed_in(alpha, admin)
    assert "João Araújo" in browser.get("/app/?tab=all&q=joao").content.decode()
    page = browser.get("/app/?tab=all&q=agua 42").content.decode()
    assert "Maria Silva" not in page  # "agua 42" is not in "ÁGUA-42"
    page = browser.get("/app/?tab=all&q=agua-42").content.decode()
    assert "Maria Silva" in page and "João Araújo" not in page


def test_search_finds_subjects_without_accents(alpha, people):
    admin = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        # No service sets a subject yet (the API does not either): written as an import would.
        Conversation.objects.filter(contact__name="Jo Short").update(subject="Devolução do pedido")
        assert names(conversation_list(admin, q="devolucao")) == {"Jo Short"}


def test_the_migration_backfills_previews_of_existing_conversations(alpha):
    import importlib

    from django.apps import apps

    backfill = importlib.import_module(
        "apps.conversations.migrations.0006_backfill_last_message_preview"
    ).backfill
    inbox = make_inbox(alpha)
    phone = new_phone()
    receive(alpha, inbox, phone=phone, text="first")
    pk = receive(alpha, inbox, phone=phone, text="the  last\none").conversation_id
    with schema_context(alpha.schema_name):
        Conversation.objects.filter(pk=pk).update(last_message_preview="")  # as before the migration
        backfill(apps, None)
        assert Conversation.objects.get(pk=pk).last_message_preview == "the last one"


def test_a_two_letter_search_finds_names_without_accents_but_not_message_text(alpha, people):
    admin = make_user(alpha, role="admin")
    with schema_context(alpha.schema_name):
        assert names(conversation_list(admin, q="ão")) == {"João Araújo"}
        assert "João Araújo" in names(conversation_list(admin, q="au"))  # "Araújo" → "ARAUJO"
        assert names(conversation_list(admin, q="gu")) == set()  # "ÁGUA" is in a message only
