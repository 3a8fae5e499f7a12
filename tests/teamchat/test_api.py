"""The team-chat API as its users meet it: rooms, members, messages, threads, search, reads."""

import pytest
from django_tenants.utils import schema_context

from apps.notifications.models import Notification
from apps.teamchat.models import Message
from apps.teamchat.realtime import may_follow_room
from tests.fixtures.factories import make_api_key
from tests.teamchat.conftest import post, room_of, unread

pytestmark = pytest.mark.django_db
ROOMS = "/api/v1/team-chat/rooms"


def test_a_group_room_lists_its_members_and_counts_what_each_has_not_read(people):
    ana, bruno, carla = people("Ana", "Bruno", "Carla")
    room = room_of(ana, bruno, carla)
    assert sorted(m["name"] for m in room["members"]) == ["Ana", "Bruno", "Carla"]
    assert {m["name"]: m["role"] for m in room["members"]}["Ana"] == "owner"

    for text in ("one", "two", "three"):
        assert post(ana, room["id"], text).status_code == 201
    assert post(bruno, room["id"], "four").status_code == 201

    # Bruno's sending showed him the room; Carla has read nothing; Ana missed Bruno's one.
    assert (unread(ana, room["id"]), unread(bruno, room["id"]), unread(carla, room["id"])) == (1, 0, 4)
    listed = {item["id"]: item for item in carla.api.get(ROOMS).json()["items"]}
    assert listed[room["id"]]["unread_count"] == 4

    read = carla.api.post(f"{ROOMS}/{room['id']}/read", {})
    assert read.json()["unread_count"] == 0 and unread(carla, room["id"]) == 0
    texts = [m["text"] for m in carla.api.get(f"{ROOMS}/{room['id']}/messages").json()["items"]]
    assert texts == ["four", "three", "two", "one"]


def test_reading_up_to_a_message_leaves_the_later_ones_unread(people):
    ana, bruno = people("Ana", "Bruno")
    room = room_of(ana, bruno)
    ids = [post(ana, room["id"], f"m{n}").json()["id"] for n in range(5)]

    response = bruno.api.post(f"{ROOMS}/{room['id']}/read", {"up_to": ids[1]})

    assert response.json() == {"room_id": room["id"], "unread_count": 3, "last_read_message_id": ids[1]}


def test_a_direct_room_is_found_again_by_either_person(people):
    ana, bruno = people("Ana", "Bruno")

    first = ana.api.post("/api/v1/team-chat/direct", {"user_id": bruno.user.pk})
    again = bruno.api.post("/api/v1/team-chat/direct", {"user_id": ana.user.pk})

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and first.json()["kind"] == "direct"
    self_chat = ana.api.post("/api/v1/team-chat/direct", {"user_id": ana.user.pk})
    assert self_chat.status_code == 422 and self_chat.json()["error"]["details"][0]["field"] == "user_id"
    leave = ana.api.post(f"{ROOMS}/{first.json()['id']}/leave")
    assert leave.status_code == 409


def test_replies_form_a_thread_listed_with_their_root(people):
    ana, bruno = people("Ana", "Bruno")
    room = room_of(ana, bruno)
    root = post(ana, room["id"], "Who takes the Lisbon client?").json()
    post(bruno, room["id"], "Me", reply_to=root["id"])
    post(ana, room["id"], "Unrelated")
    reply = post(ana, room["id"], "Thanks", reply_to=root["id"]).json()

    assert reply["reply_to"]["text"] == "Who takes the Lisbon client?"
    thread = bruno.api.get(f"{ROOMS}/{room['id']}/messages?thread={root['id']}").json()["items"]
    assert [m["text"] for m in thread] == ["Thanks", "Me", "Who takes the Lisbon client?"]
    assert thread[-1]["reply_count"] == 2


def test_search_in_a_room_ignores_accents_and_case_and_deleted_messages(people):
    ana, bruno = people("Ana", "Bruno")
    room, other = room_of(ana, bruno), room_of(ana, bruno, name="Other")
    post(ana, room["id"], "A reunião é às três")
    gone = post(ana, room["id"], "outra reunião").json()
    post(ana, other["id"], "reuniao elsewhere")
    ana.api.delete(f"{ROOMS}/{room['id']}/messages/{gone['id']}")

    found = bruno.api.get(f"{ROOMS}/{room['id']}/messages?q=REUNIAO").json()["items"]

    assert [m["text"] for m in found] == ["A reunião é às três"]


def test_only_the_author_edits_or_deletes_and_a_deleted_message_says_so(people, in_schema, alpha):
    ana, bruno = people("Ana", "Bruno")
    room = room_of(ana, bruno)
    message = post(ana, room["id"], "draft").json()
    url = f"{ROOMS}/{room['id']}/messages/{message['id']}"

    assert bruno.api.patch(url, {"text": "hijacked"}).status_code == 403
    assert bruno.api.delete(url).status_code == 403
    edited = ana.api.patch(url, {"text": "final"}).json()
    assert edited["text"] == "final" and edited["edited_at"]
    assert unread(bruno, room["id"]) == 1
    deleted = ana.api.delete(url).json()

    assert deleted["deleted"] is True and deleted["text"] == ""
    assert unread(bruno, room["id"]) == 0
    assert bruno.api.get(f"{ROOMS}/{room['id']}/messages").json()["items"][0]["deleted"] is True
    assert ana.api.patch(url, {"text": "again"}).status_code == 409
    with in_schema(alpha.schema_name):
        assert Message.objects.get(pk=message["id"]).text == ""


def test_owners_manage_members_and_a_removed_member_loses_the_room(people):
    ana, bruno, carla = people("Ana", "Bruno", "Carla")
    room = room_of(ana, bruno)
    url = f"{ROOMS}/{room['id']}"

    assert bruno.api.post(f"{url}/members", {"user_id": carla.user.pk}).status_code == 403
    assert bruno.api.patch(url, {"name": "Mine"}).status_code == 403
    assert ana.api.post(f"{url}/members", {"user_id": carla.user.pk}).status_code == 201
    assert ana.api.patch(url, {"name": "Ops EU", "description": "Europe"}).json()["name"] == "Ops EU"
    assert ana.api.delete(f"{url}/members/{bruno.user.pk}").status_code == 204

    assert bruno.api.get(url).status_code == 404
    assert post(bruno, room["id"], "still here?").status_code == 404
    assert bruno.api.get(f"{url}/messages").status_code == 404
    assert room["id"] not in [r["id"] for r in bruno.api.get(ROOMS).json()["items"]]
    # The last owner leaving hands the group to the oldest remaining member.
    assert ana.api.post(f"{url}/leave").status_code == 204
    assert {m["name"]: m["role"] for m in carla.api.get(url).json()["members"]} == {"Carla": "owner"}


def test_a_mention_notifies_the_member_in_their_own_language(people, in_schema, alpha):
    ana, bruno, carla = people("Ana Souza", "Bruno", "Carla")
    with in_schema(alpha.schema_name):
        type(bruno.user).objects.filter(pk=bruno.user.pk).update(language="es")
    room = room_of(ana, bruno, carla, name="Ventas")

    sent = post(ana, room["id"], "@bruno can you and @Carla check?").json()

    assert sorted(sent["mentions"]) == sorted([bruno.user.pk, carla.user.pk])
    with in_schema(alpha.schema_name):
        to_bruno = Notification.objects.get(user=bruno.user, kind="mention")
        to_carla = Notification.objects.get(user=carla.user, kind="mention")
        mentioned = {"room_id": room["id"], "chat_message_id": sent["id"], "by_user_id": ana.user.pk}
        assert to_bruno.data == mentioned
        assert to_bruno.title == "Ana Souza te mencionó en Ventas"
        assert to_carla.title == "Ana Souza mentioned you in Ventas"
        assert not Notification.objects.filter(user=ana.user, kind="mention").exists()


def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(people, in_schema, alpha):
    ana, bruno = people("Ana", "Bruno")
    room = room_of(ana, bruno)
    cases = [
        (f"{ROOMS}/{room['id']}/messages", {}, "text"),
        (f"{ROOMS}/{room['id']}/messages", {"text": "x" * 4097}, "text"),
        (f"{ROOMS}/{room['id']}/messages", {"text": "hi", "reply_to": 999999}, "reply_to"),
        (f"{ROOMS}/{room['id']}/messages", {"text": "hi", "media_id": 999999}, "media_id"),
        (ROOMS, {"name": "  "}, "name"),
        (ROOMS, {"name": "Ok", "member_ids": [999999]}, "member_ids"),
        (f"{ROOMS}/{room['id']}/members", {"user_id": 999999}, "user_id"),
    ]
    for url, body, field in cases:
        response = ana.api.post(url, body)
        assert response.status_code == 422, (url, body, response.content)
        assert response.json()["error"]["code"] == "validation_error"
        assert field in [d["field"] for d in response.json()["error"]["details"]], response.json()
    with in_schema(alpha.schema_name):
        assert not Message.objects.filter(room_id=room["id"]).exists()


def test_api_keys_cannot_chat(alpha, api, people):
    (ana,) = people("Ana")
    room = room_of(ana)
    _, key = make_api_key(alpha, scopes=["users:read", "conversations:read", "conversations:write"])
    client = api(alpha, headers={"X-Api-Key": key})

    assert client.get(ROOMS).status_code == 403
    assert client.get(f"{ROOMS}/{room['id']}/messages").status_code == 403


def test_a_plan_without_team_chat_refuses_it_on_the_api_the_page_and_the_socket(make_company, api):
    from tenants.models import Plan
    from tests.fixtures.factories import make_user
    from tests.web.test_pages import Browser

    company = make_company(plan="pro")
    with schema_context("public"):
        Plan.objects.filter(pk=company.plan_id).update(team_chat=False)
    company.refresh_from_db()
    user = make_user(company)
    client = api(company, token=api(company).login(user.email)["access"])

    response = client.get(ROOMS)

    assert response.status_code == 403 and response.json()["error"]["code"] == "feature_not_in_plan"
    browser = Browser(company)
    browser.login(user)
    page = browser.get("/app/team-chat/")
    assert page.status_code == 403 and 'id="team-chat-not-in-plan"' in page.content.decode()
    assert "/app/team-chat/" not in browser.get("/app/").content.decode()
    with schema_context(company.schema_name):
        assert may_follow_room(user.pk, "1") is False
