"""Files in team chat go through the media pipeline: held until clamd says clean, never shown infected."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from apps.media.tasks import media_scan
from apps.teamchat.events import MESSAGE_CREATED
from tests.media.test_media_api import EICAR
from tests.teamchat.conftest import groups_of, post, room_of, unread

pytestmark = pytest.mark.django_db
ROOMS = "/api/v1/team-chat/rooms"


def upload_unscanned(person, name: str, data: bytes, django_capture_on_commit_callbacks) -> int:
    """Upload a file whose scan has not run yet (its commit hooks are dropped)."""
    with django_capture_on_commit_callbacks(execute=False):
        response = person.api.client.post(
            "/api/v1/media", {"file": SimpleUploadedFile(name, data, content_type="text/plain")},
            headers=person.api.headers,
        )
    connection.set_schema_to_public()
    assert response.status_code == 201, response.content
    return response.json()["id"]


def texts_seen_by(person, room_id: int) -> list[str]:
    return [m["text"] for m in person.api.get(f"{ROOMS}/{room_id}/messages").json()["items"]]


@pytest.mark.parametrize(("data", "shown"), [(b"minutes of the meeting\n", True), (EICAR, False)],
                         ids=["clean", "eicar"])
def test_a_file_is_held_until_scanned_and_shown_to_the_room_only_if_clean(
    people, alpha, clamd_settings, frames, django_capture_on_commit_callbacks, data, shown,
):
    ana, bruno = people("Ana", "Bruno")
    room = room_of(ana, bruno)
    media_id = upload_unscanned(ana, "notes.txt", data, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        sent = post(ana, room["id"], "the file", media_id=media_id)
    assert sent.status_code == 201 and sent.json()["held"] is True
    assert texts_seen_by(ana, room["id"]) == ["the file"]
    assert texts_seen_by(bruno, room["id"]) == [] and unread(bruno, room["id"]) == 0
    assert groups_of(frames, MESSAGE_CREATED) == {f"{alpha.schema_name}.user.{ana.user.pk}"}

    with django_capture_on_commit_callbacks(execute=True):
        media_scan.call_local(alpha.schema_name, media_id)

    bruno_groups = f"{alpha.schema_name}.user.{bruno.user.pk}"
    if shown:
        (seen,) = bruno.api.get(f"{ROOMS}/{room['id']}/messages").json()["items"]
        assert seen["media"]["status"] == "clean" and seen["media"]["download_url"]
        assert unread(bruno, room["id"]) == 1
        assert bruno_groups in groups_of(frames, MESSAGE_CREATED)
    else:
        assert texts_seen_by(bruno, room["id"]) == [] and unread(bruno, room["id"]) == 0
        assert bruno_groups not in groups_of(frames, MESSAGE_CREATED)
        (mine,) = ana.api.get(f"{ROOMS}/{room['id']}/messages").json()["items"]
        assert mine["held"] is True and mine["media"]["status"] == "infected"
        again = post(ana, room["id"], "again", media_id=media_id)
        assert again.status_code == 422 and again.json()["error"]["details"][0]["field"] == "media_id"


def test_only_the_senders_own_upload_can_be_attached(people, django_capture_on_commit_callbacks):
    ana, bruno = people("Ana", "Bruno")
    room = room_of(ana, bruno)
    media_id = upload_unscanned(ana, "mine.txt", b"ana's file\n", django_capture_on_commit_callbacks)

    response = post(bruno, room["id"], "look", media_id=media_id)

    assert response.status_code == 422 and response.json()["error"]["details"][0]["field"] == "media_id"
