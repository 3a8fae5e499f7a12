"""The "New conversation" dialog through Django's test client (the API's service behind it)."""

import pytest
from django_tenants.utils import schema_context

from apps.contacts.services import contact_create
from apps.conversations.models import Conversation, Message
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, make_template, new_phone, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(alpha):
    inbox = make_inbox(alpha, name="Vendas")
    template = make_template(alpha, inbox)
    with schema_context(alpha.schema_name):
        contact = contact_create(phone=new_phone(), name="João Araújo")
    agent = make_user(alpha, name="Ana")
    return {"inbox": inbox, "template": template, "contact": contact, "agent": agent,
            "browser": signed_in(alpha, agent)}


def test_the_dialog_offers_inboxes_templates_with_their_variables_and_a_preview(alpha, desk):
    html = desk["browser"].get("/app/new/").content.decode()
    assert ">Vendas</option>" in html and "order_update (en)" in html
    assert 'name="var1"' in html and 'name="var2"' in html and 'name="var3"' not in html
    assert 'data-body="Hi {{1}}, your order {{2}} shipped."' in html
    # The inbox page has the button that opens it.
    assert 'data-new-conversation' in desk["browser"].get("/app/").content.decode()


def test_contacts_are_found_without_accents_to_pick_one(alpha, desk):
    html = desk["browser"].get("/app/new/contacts/?contact_q=joao").content.decode()
    assert "João Araújo" in html and f'value="{desk["contact"].pk}"' in html


def test_starting_from_the_dialog_opens_the_new_conversation(alpha, desk):
    response = desk["browser"].post("/app/new/", {
        "inbox_id": desk["inbox"].pk, "contact_id": desk["contact"].pk, "template_id": desk["template"].pk,
        "var1": "João", "var2": "#77",
    })
    assert response.status_code == 204
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(contact=desk["contact"])
        assert conversation.assignee_id == desk["agent"].pk
        assert Message.objects.get(conversation=conversation).text == "Hi João, your order #77 shipped."
    assert response["HX-Redirect"] == f"/app/c/{conversation.pk}/"


def test_a_new_phone_starts_a_conversation_with_a_new_contact(alpha, desk):
    phone = new_phone()
    response = desk["browser"].post("/app/new/", {
        "inbox_id": desk["inbox"].pk, "phone": phone, "name": "Nova", "template_id": desk["template"].pk,
        "var1": "Nova", "var2": "#1",
    })
    assert response.status_code == 204
    with schema_context(alpha.schema_name):
        assert Conversation.objects.filter(contact__phone=phone, contact__name="Nova").exists()


def test_refusals_show_in_the_dialog_with_a_link_to_the_conversation_in_progress(alpha, desk):
    existing = receive(alpha, desk["inbox"], phone=desk["contact"].phone, text="Oi").conversation_id
    base = {"inbox_id": desk["inbox"].pk, "template_id": desk["template"].pk, "var1": "a", "var2": "b"}
    html = desk["browser"].post("/app/new/", {**base, "contact_id": desk["contact"].pk}).content.decode()
    assert 'role="alert"' in html and f'href="/app/c/{existing}/"' in html
    html = desk["browser"].post("/app/new/", {**base, "phone": "12"}).content.decode()
    assert 'role="alert"' in html and 'value="12"' in html
    html = desk["browser"].post("/app/new/", {**base, "var2": "", "phone": new_phone()}).content.decode()
    assert 'role="alert"' in html


def test_another_companys_people_find_none_of_our_contacts_in_the_dialog(alpha, bravo, desk):
    from tests.web.test_pages import Browser

    outsider = signed_in(bravo, make_user(bravo, role="admin"))
    assert "João" not in outsider.get("/app/new/contacts/?contact_q=joao").content.decode()
    html = outsider.get(f"/app/new/?contact_id={desk['contact'].pk}").content.decode()
    assert "João" not in html and desk["contact"].phone not in html
    # Signed out (or signed in elsewhere), our host's dialog is not served.
    response = Browser(alpha).get("/app/new/")
    assert response.status_code == 302 and "/app/login/" in response["Location"]


def test_the_contact_page_opens_the_dialog_for_that_contact(alpha, desk):
    page = desk["browser"].get(f"/app/contacts/{desk['contact'].pk}/").content.decode()
    assert f'data-new-conversation data-contact-id="{desk["contact"].pk}"' in page
    assert 'id="new-conversation-dialog"' in page
    html = desk["browser"].get(f"/app/new/?contact_id={desk['contact'].pk}").content.decode()
    assert f'name="contact_id" value="{desk["contact"].pk}"' in html and "João Araújo" in html
    assert 'name="phone"' not in html
