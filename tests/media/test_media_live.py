"""Media in messages, end to end: real server, worker, clamd and the fake Meta API (acceptance 5)."""

import io
import time
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.fakes import webhooks
from tests.fixtures.live_tenant import PHONE_NUMBER_ID, Tenant, wait_until

pytestmark = [pytest.mark.live]


def photo(seed: int) -> bytes:
    image = Image.new("RGB", (800, 600), (seed % 256, 90, 160))
    for x in range(0, 800, 5):
        image.putpixel((x, (x * seed) % 600), (255, 255, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def tenant(clamd_settings, tenant):
    """The shared live tenant, with this process's settings pointing at the test clamd."""
    return tenant


def media_of(tenant: Tenant, media_id: int) -> dict:
    return tenant.api("get", f"/media/{media_id}").json()


def test_a_reply_with_an_image_reaches_the_provider_only_once_clean(tenant, fake, clamd_server, worker):
    fake.reset()
    inbox = tenant.meta_inbox(fake)
    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987651000", "Send me a photo please")
    assert tenant.post_meta(inbox["id"], body).status_code == 200
    conversation_id = wait_until(lambda: tenant.conversations())[0]["id"]

    clamd_server.stop()
    try:
        uploaded = tenant.api("post", "/media", files={"file": ("shoe.jpg", photo(7), "image/jpeg")})
        assert uploaded.status_code == 201 and uploaded.json()["status"] == "scanning"
        media_id = uploaded.json()["id"]
        reply = tenant.api("post", f"/conversations/{conversation_id}/messages",
                           json={"text": "Here it is", "media_id": media_id})
        assert reply.status_code == 201 and reply.json()["status"] == "pending"
        time.sleep(2.5)
        assert media_of(tenant, media_id)["status"] == "scanning"
        assert fake.count_accepted() == 0  # never sent while in quarantine
    finally:
        clamd_server.start()

    assert fake.wait_for_accepted(1, timeout=20)  # the postponed scan retries on its own
    sent = fake.accepted[0].json
    assert sent["type"] == "image" and sent["image"]["caption"] == "Here it is"
    assert media_of(tenant, media_id)["status"] == "clean"
    # the link given to the provider serves the clean bytes without a login
    link = urlsplit(sent["image"]["link"])
    assert link.hostname == tenant.host
    served = tenant.http.get(f"{link.path}?{link.query}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    time.sleep(1)
    assert fake.count_accepted() == 1


def test_an_inbound_image_is_downloaded_scanned_and_shown_as_media(tenant, fake, clamd_server, worker):
    fake.reset()
    inbox = tenant.meta_inbox(fake)
    fake.add_meta_media("media-778899", photo(11), "image/jpeg")
    body = webhooks.meta_image_message(PHONE_NUMBER_ID, "5511987651001", "media-778899", "image/jpeg",
                                       caption="my broken shoe")
    assert tenant.post_meta(inbox["id"], body).status_code == 200

    conversation_id = wait_until(lambda: tenant.conversations())[0]["id"]
    message = wait_until(lambda: [m for m in tenant.messages(conversation_id)
                                  if m["media"] and m["media"]["status"] == "clean"], timeout=20)[0]
    assert message["kind"] == "image" and message["text"] == "my broken shoe"
    assert message["media"]["thumbnail_url"] and message["media"]["width"] == 800
    thumbnail = tenant.http.get(message["media"]["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 320
