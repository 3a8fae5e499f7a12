"""A room belongs to its members in its company: every door (API, frames, socket topic) agrees."""

import pytest
from django_tenants.utils import schema_context

from apps.teamchat.events import MESSAGE_CREATED, ROOM_TOPIC
from apps.teamchat.models import Message, Room
from apps.teamchat.realtime import _message_frames, may_follow_room
from conversa.events import Event
from conversa.realtime.topics import authorize
from tests.teamchat.conftest import groups_of, post, room_of

pytestmark = pytest.mark.django_db
ROOMS = "/api/v1/team-chat/rooms"


def test_another_companys_user_cannot_list_read_post_join_or_change_a_room(people, bravo, alpha, in_schema):
    ana, bruno = people("Ana", "Bruno")
    (intruder,) = people("Ivo", role="admin", company=bravo)
    room = room_of(ana, bruno)
    message = post(ana, room["id"], "internal numbers").json()
    url = f"{ROOMS}/{room['id']}"

    assert intruder.api.get(ROOMS).json()["items"] == []
    for response in (
        intruder.api.get(url), intruder.api.get(f"{url}/messages"), post(intruder, room["id"], "hi"),
        intruder.api.patch(url, {"name": "mine"}),
        intruder.api.post(f"{url}/members", {"user_id": ana.user.pk}),
        intruder.api.post(f"{url}/read"), intruder.api.post(f"{url}/leave"),
        intruder.api.delete(f"{url}/messages/{message['id']}"),
    ):
        assert response.status_code == 404, response.content
    # Alpha's token means nothing on bravo's host.
    assert ana.api.with_token(ana.api.headers["Authorization"].split()[1]).get(ROOMS).status_code == 200
    foreign = type(ana.api)(intruder.api.host, token=ana.api.headers["Authorization"].split()[1])
    assert foreign.get(ROOMS).status_code == 401
    with in_schema(alpha.schema_name):
        assert Room.objects.get(pk=room["id"]).name == "Ops"
        assert Message.objects.filter(room_id=room["id"]).count() == 1


def test_a_colleague_outside_the_room_even_an_admin_gets_404(people):
    ana, bruno = people("Ana", "Bruno")
    (boss,) = people("Boss", role="admin")
    room = room_of(ana, bruno)

    assert boss.api.get(f"{ROOMS}/{room['id']}").status_code == 404
    assert boss.api.get(f"{ROOMS}/{room['id']}/messages").status_code == 404
    assert post(boss, room["id"], "let me in").status_code == 404
    assert room["id"] not in [r["id"] for r in boss.api.get(ROOMS).json()["items"]]


def test_message_frames_go_to_the_members_only_and_never_to_another_company(
    people, alpha, bravo, frames, django_capture_on_commit_callbacks,
):
    ana, bruno, _outsider = people("Ana", "Bruno", "Olga")
    room = room_of(ana, bruno)
    with django_capture_on_commit_callbacks(execute=True):
        message = post(ana, room["id"], "hello team").json()

    assert groups_of(frames, MESSAGE_CREATED) == {
        f"{alpha.schema_name}.user.{ana.user.pk}", f"{alpha.schema_name}.user.{bruno.user.pk}",
    }
    (frame,) = [f for _, f in frames if f["type"] == MESSAGE_CREATED][:1]
    assert frame["data"]["text"] == "hello team" and frame["data"]["room_id"] == room["id"]
    # The same event read in bravo's schema finds nothing to send.
    with schema_context(bravo.schema_name):
        event = Event(MESSAGE_CREATED, bravo.schema_name, {"message_id": message["id"]})
        assert _message_frames([event]) == [None]


def test_a_removed_member_stops_getting_frames_and_its_socket_leaves_the_room_topic(
    people, alpha, bravo, frames, django_capture_on_commit_callbacks,
):
    ana, bruno = people("Ana", "Bruno")
    (stranger,) = people("Ivo", company=bravo)
    room = room_of(ana, bruno)
    schema = alpha.schema_name
    assert authorize(schema, bruno.user.pk, ROOM_TOPIC, room["id"]) == f"{schema}.{ROOM_TOPIC}.{room['id']}"
    assert authorize(bravo.schema_name, stranger.user.pk, ROOM_TOPIC, room["id"]) is None

    with django_capture_on_commit_callbacks(execute=True):
        ana.api.delete(f"{ROOMS}/{room['id']}/members/{bruno.user.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        post(ana, room["id"], "after Bruno left")

    assert (f"{schema}.user.{bruno.user.pk}",
            {"type": "topic.revoke", "group": f"{schema}.{ROOM_TOPIC}.{room['id']}"}) in frames
    assert {"type": "team_chat.room.updated", "data": {"id": room["id"], "removed": True}} in [
        f for g, f in frames if g == f"{schema}.user.{bruno.user.pk}"]
    assert groups_of(frames, MESSAGE_CREATED) == {f"{schema}.user.{ana.user.pk}"}
    with schema_context(schema):
        assert may_follow_room(bruno.user.pk, str(room["id"])) is False
        assert may_follow_room(ana.user.pk, str(room["id"])) is True
