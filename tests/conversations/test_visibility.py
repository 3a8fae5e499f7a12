"""What an agent may not see stays out of reach on the doors around conversations (issue 11, items 2–3)."""

import io

import pytest
from django_tenants.utils import schema_context

from apps.conversations import outbound
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_assign
from apps.media import services as media_services
from apps.media.models import MediaFile
from conversa.files.sniffing import sniff_file
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def clean_file(company, uploader=None) -> MediaFile:
    with schema_context(company.schema_name):
        data = io.BytesIO(b"invoice 2041\n" * 20)
        media = media_services._quarantine(
            fileobj=data, size=len(data.getvalue()), sniffed=sniff_file(data, filename="invoice.txt"),
            filename="invoice.txt", source=MediaFile.Source.UPLOAD, uploaded_by=uploader,
        )
        return media_services.media_mark_clean(media=media)


@pytest.fixture
def desk(alpha, api):
    inbox = make_inbox(alpha)
    ana, bruno, admin = make_user(alpha), make_user(alpha), make_user(alpha, role="admin")
    phone = new_phone()
    conversation_id = receive(alpha, inbox, phone=phone, text="My card number is …").conversation_id
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        conversation_assign(conversation=conversation, assignee=bruno, actor=None)
        attachment = clean_file(alpha, uploader=bruno)
        outbound.message_send(conversation=conversation, author=bruno, text="Here is your invoice")
        outbound.message_send(conversation=conversation, author=bruno, media_id=attachment.pk)
    return {
        "inbox": inbox, "phone": phone, "conversation_id": conversation_id, "attachment": attachment,
        "ana": ana, "bruno": bruno,
        "ana_api": api(alpha, token=api(alpha).login(ana.email)["access"]),
        "admin_api": api(alpha, token=api(alpha).login(admin.email)["access"]),
    }


def test_the_file_of_a_colleagues_conversation_is_404_with_its_signed_link_too(alpha, desk):
    ana, media_id = desk["ana_api"], desk["attachment"].pk
    assert ana.get(f"/api/v1/conversations/{desk['conversation_id']}").status_code == 404
    assert ana.get(f"/api/v1/media/{media_id}").status_code == 404
    assert ana.get(f"/api/v1/media/{media_id}/download").status_code == 404
    assert signed_in(alpha, desk["ana"]).get(f"/app/media/{media_id}/original/").status_code == 404
    # Whoever may see the conversation still gets the file and its link.
    shown = desk["admin_api"].get(f"/api/v1/media/{media_id}")
    assert shown.status_code == 200 and shown.json()["download_url"]


def test_a_file_nobody_attached_yet_is_its_uploaders_alone(alpha, desk, api):
    mine = clean_file(alpha, uploader=desk["ana"])
    assert desk["ana_api"].get(f"/api/v1/media/{mine.pk}").status_code == 200
    bruno = api(alpha, token=api(alpha).login(desk["bruno"].email)["access"])
    assert bruno.get(f"/api/v1/media/{mine.pk}").status_code == 404
    assert bruno.get(f"/api/v1/media/{mine.pk}/download").status_code == 404


def test_attaching_a_file_one_may_not_see_is_refused_and_sends_nothing(alpha, desk):
    own = receive(alpha, desk["inbox"]).conversation_id
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=Conversation.objects.get(pk=own), assignee=desk["ana"], actor=None)
    response = desk["ana_api"].post(
        f"/api/v1/conversations/{own}/messages", {"media_id": desk["attachment"].pk}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [{"field": "media_id", "message": "No such file."}]
    with schema_context(alpha.schema_name):
        assert not Conversation.objects.get(pk=own).messages.filter(media__isnull=False).exists()


def test_the_sandbox_outbox_lists_only_conversations_the_caller_may_see(alpha, desk):
    url = f"/api/v1/inboxes/{desk['inbox'].pk}/sandbox/outbox"
    assert desk["ana_api"].get(url).json()["items"] == []
    texts = [item["text"] for item in desk["admin_api"].get(url).json()["items"]]
    assert "Here is your invoice" in texts


def test_the_sandbox_page_does_not_show_a_colleagues_conversation(alpha, desk):
    phone = desk["phone"].replace("+", "%2B")
    ana = signed_in(alpha, desk["ana"])
    page = ana.get(f"/app/sandbox/?inbox={desk['inbox'].pk}&phone={phone}").content.decode()
    assert "Here is your invoice" not in page and "My card number" not in page
    thread = ana.get(f"/app/sandbox/{desk['inbox'].pk}/thread/?phone={phone}").content.decode()
    assert "Here is your invoice" not in thread
    bruno_page = signed_in(alpha, desk["bruno"]).get(f"/app/sandbox/?inbox={desk['inbox'].pk}&phone={phone}")
    assert "Here is your invoice" in bruno_page.content.decode()


def test_transfer_and_assign_refuse_an_agent_routing_a_queued_conversation_alike(alpha, desk):
    queued = receive(alpha, desk["inbox"]).conversation_id
    url = f"/api/v1/conversations/{queued}"
    colleague = desk["bruno"].pk
    assert desk["ana_api"].post(f"{url}/assign", {"assignee_id": colleague}).status_code == 403
    assert desk["ana_api"].post(f"{url}/transfer", {"agent_id": colleague}).status_code == 403
    ui = signed_in(alpha, desk["ana"]).post(f"/app/c/{queued}/assign/", {"assignee_id": colleague})
    assert ui.status_code == 200 and ui["HX-Retarget"] == "#flash"
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=queued).assignee_id is None
