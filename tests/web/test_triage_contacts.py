"""The contacts page of the agents' UI: list, accent-free search, filters, a contact and the
conversations of theirs that the viewer may see."""

import pytest
from django_tenants.utils import schema_context

from apps.contacts.services import contact_create
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_assign
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive
from tests.web.test_pages import Browser, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(alpha):
    with schema_context(alpha.schema_name):
        joao = contact_create(phone=new_phone(), name="João Araújo", tags=["vip"], lead_status="qualified")
        maria = contact_create(phone=new_phone(), name="Maria Souza", email="maria@example.com",
                               tags=["wholesale"], lead_status="customer")
    return {"joao": joao, "maria": maria}


def test_the_list_searches_without_accents_and_filters_by_tag_and_lead_status(alpha, book):
    agent = signed_in(alpha, make_user(alpha))
    page = agent.get("/app/contacts/").content.decode()
    assert "João Araújo" in page and "Maria Souza" in page
    page = agent.get("/app/contacts/?q=joao araujo").content.decode()
    assert "João Araújo" in page and "Maria Souza" not in page
    page = agent.get("/app/contacts/?tag=wholesale").content.decode()
    assert "Maria Souza" in page and "João Araújo" not in page
    page = agent.get("/app/contacts/?lead_status=qualified").content.decode()
    assert "João Araújo" in page and "Maria Souza" not in page
    assert "No contacts match." in agent.get("/app/contacts/?q=nobody-like-this").content.decode()
    # The search box swaps only the results.
    partial = agent.get("/app/contacts/?q=maria", HX_Request="true", HX_Target="contact-results")
    assert partial.content.decode().startswith('<div id="contact-results">')


def test_a_contact_shows_only_the_conversations_the_viewer_may_see(alpha, book):
    inbox, second = make_inbox(alpha), make_inbox(alpha, name="Second line")
    ana, bruno = make_user(alpha, name="Ana"), make_user(alpha, name="Bruno")
    phone = book["joao"].phone
    visible = receive(alpha, inbox, phone=phone, text="Oi, tudo bem?").conversation_id
    hidden = receive(alpha, second, phone=phone, text="Segredo do Bruno").conversation_id
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=Conversation.objects.get(pk=hidden), assignee=bruno, actor=None)
    page = signed_in(alpha, ana).get(f"/app/contacts/{book['joao'].pk}/").content.decode()
    assert "João Araújo" in page and phone in page and "Qualified" in page
    assert f"/app/c/{visible}/" in page and "Oi, tudo bem?" in page
    assert f"/app/c/{hidden}/" not in page and "Segredo do Bruno" not in page
    page = signed_in(alpha, bruno).get(f"/app/contacts/{book['joao'].pk}/").content.decode()
    assert f"/app/c/{hidden}/" in page


def test_the_nav_and_the_contact_panel_link_to_the_contacts_page(alpha, book):
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin")
    pk = receive(alpha, inbox, phone=book["maria"].phone, text="Hello").conversation_id
    browser = signed_in(alpha, admin)
    assert 'href="/app/contacts/"' in browser.get("/app/").content.decode()
    pane = browser.get(f"/app/c/{pk}/").content.decode()
    assert f'href="/app/contacts/{book["maria"].pk}/"' in pane


def test_another_companys_contact_is_404_and_anonymous_users_sign_in(alpha, bravo, book):
    bravo_admin = make_user(bravo, role="admin")
    assert signed_in(bravo, bravo_admin).get(f"/app/contacts/{book['joao'].pk}/").status_code == 404
    assert "João" not in signed_in(bravo, bravo_admin).get("/app/contacts/?q=joao").content.decode()
    response = Browser(alpha).get("/app/contacts/")
    assert response.status_code == 302 and "/app/login/" in response["Location"]
