"""Images agents send show on the sandbox customer page, to whoever may see them."""

import io

import pytest
from django_tenants.utils import schema_context
from PIL import Image

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


def clean_photo(company, uploader) -> MediaFile:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(buffer, "JPEG")
    buffer.seek(0)
    with schema_context(company.schema_name):
        media = media_services._quarantine(
            fileobj=buffer, size=len(buffer.getvalue()), sniffed=sniff_file(buffer, filename="photo.jpg"),
            filename="photo.jpg", source=MediaFile.Source.UPLOAD, uploaded_by=uploader,
        )
        return media_services.media_mark_clean(media=media)


def thread_url(inbox, phone) -> str:
    return f"/app/sandbox/{inbox.pk}/thread/?phone={phone.replace('+', '%2B')}"


def test_an_image_an_agent_sent_shows_on_the_customer_page_only_to_those_who_may_see_it(alpha):
    inbox = make_inbox(alpha)
    bruno, ana = make_user(alpha, name="Bruno"), make_user(alpha, name="Ana")
    admin = make_user(alpha, role="admin")
    phone = new_phone()
    pk = receive(alpha, inbox, phone=phone, text="Can I see it?").conversation_id
    photo = clean_photo(alpha, bruno)
    assert photo.status == "clean" and photo.thumbnail_name
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=pk)
        conversation_assign(conversation=conversation, assignee=bruno, actor=None)
        outbound.message_send(conversation=conversation, author=bruno, media_id=photo.pk)
    thumbnail = f"/app/media/{photo.pk}/thumbnail/"
    as_admin = signed_in(alpha, admin)
    thread = as_admin.get(thread_url(inbox, phone)).content.decode()
    assert f'src="{thumbnail}"' in thread
    assert as_admin.get(thumbnail).status_code == 200
    # Ana may not see Bruno's conversation: no message, no image, and the file itself is 404.
    as_ana = signed_in(alpha, ana)
    assert thumbnail not in as_ana.get(thread_url(inbox, phone)).content.decode()
    assert as_ana.get(thumbnail).status_code == 404
