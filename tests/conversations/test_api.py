"""The conversations API: visibility by role, actions and transitions, validation, isolation."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation, Message, TimelineEvent
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, make_template, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(api, alpha):
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin")
    ana, bruno = make_user(alpha, name="Ana"), make_user(alpha, name="Bruno")
    clients = {user: api(alpha, token=api(alpha).login(user.email)["access"]) for user in (admin, ana, bruno)}
    return {"inbox": inbox, "admin": admin, "ana": ana, "bruno": bruno, "client": clients}


def conversation_of(alpha, inbox, **kwargs) -> int:
    return receive(alpha, inbox, **kwargs).conversation_id


def test_agents_see_their_own_and_unassigned_conversations_only(setup, alpha):
    s = setup
    mine, theirs, free = (conversation_of(alpha, s["inbox"]) for _ in range(3))
    s["client"][s["admin"]].post(f"/api/v1/conversations/{mine}/assign", {"assignee_id": s["ana"].pk})
    s["client"][s["admin"]].post(f"/api/v1/conversations/{theirs}/assign", {"assignee_id": s["bruno"].pk})

    ana = s["client"][s["ana"]]
    visible = {c["id"] for c in ana.get("/api/v1/conversations?limit=100").json()["items"]}
    assert mine in visible and free in visible and theirs not in visible
    assert ana.get(f"/api/v1/conversations/{theirs}").status_code == 404
    assert ana.get(f"/api/v1/conversations/{theirs}/messages").status_code == 404
    assert ana.post(f"/api/v1/conversations/{theirs}/messages", {"text": "hi"}).status_code == 404

    mine_only = ana.get("/api/v1/conversations?assignee=me").json()["items"]
    assert [c["id"] for c in mine_only] == [mine]
    unassigned = ana.get("/api/v1/conversations?assignee=none").json()["items"]
    assert free in {c["id"] for c in unassigned}


def test_an_agent_takes_a_conversation_but_only_managers_hand_them_out(setup, alpha):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    ana = s["client"][s["ana"]]
    handed = ana.post(f"/api/v1/conversations/{conversation}/assign", {"assignee_id": s["bruno"].pk})
    assert handed.status_code == 403
    taken = ana.post(f"/api/v1/conversations/{conversation}/assign", {"assignee_id": s["ana"].pk})
    assert taken.status_code == 200
    assert taken.json()["assignee_id"] == s["ana"].pk and taken.json()["status"] == "open"


def test_invalid_transitions_are_422_with_the_allowed_ones_and_change_nothing(setup, alpha, in_schema):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    admin = s["client"][s["admin"]]
    assert admin.post(f"/api/v1/conversations/{conversation}/close", {"reason": "done"}).status_code == 200
    assert (
        admin.post(f"/api/v1/conversations/{conversation}/status", {"status": "archived"}).status_code == 200
    )
    with in_schema(alpha.schema_name):
        events_before = TimelineEvent.objects.filter(conversation_id=conversation).count()

    refused = admin.post(f"/api/v1/conversations/{conversation}/status", {"status": "pending"})

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_transition"
    assert "archived" in error["message"] and "Allowed: none" in error["message"]
    with in_schema(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation).status == "archived"
        assert TimelineEvent.objects.filter(conversation_id=conversation).count() == events_before

    queued = conversation_of(alpha, s["inbox"])
    response = admin.post(f"/api/v1/conversations/{queued}/status", {"status": "pending"})
    assert response.status_code == 422
    assert "open, closed" in response.json()["error"]["message"]


def test_text_over_4096_characters_is_422_and_nothing_is_queued(setup, alpha, in_schema):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    admin = s["client"][s["admin"]]

    too_long = admin.post(f"/api/v1/conversations/{conversation}/messages", {"text": "x" * 4097})
    empty = admin.post(f"/api/v1/conversations/{conversation}/messages", {"text": "   "})

    assert too_long.status_code == 422 and too_long.json()["error"]["details"][0]["field"] == "text"
    assert empty.status_code == 422
    with in_schema(alpha.schema_name):
        assert not Message.objects.filter(conversation_id=conversation, direction="outbound").exists()
    assert (
        admin.post(f"/api/v1/conversations/{conversation}/messages", {"text": "x" * 4096}).status_code == 201
    )


def test_outside_the_24_hour_window_only_templates_can_be_sent(
    setup, alpha, in_schema, django_capture_on_commit_callbacks
):
    s = setup
    inbox = s["inbox"]
    make_template(alpha, inbox)
    conversation = conversation_of(alpha, inbox, at=timezone.now() - dt.timedelta(hours=25))
    admin = s["client"][s["admin"]]

    free_form = admin.post(f"/api/v1/conversations/{conversation}/messages", {"text": "Hello again"})
    assert free_form.status_code == 422
    assert free_form.json()["error"]["code"] == "outside_service_window"
    assert admin.get(f"/api/v1/conversations/{conversation}").json()["within_service_window"] is False

    with django_capture_on_commit_callbacks(execute=True):
        sent = admin.post(
            f"/api/v1/conversations/{conversation}/messages",
            {
                "template": {"name": "order_update", "language": "en", "variables": ["Marta", "#1234"]},
            },
        )
    assert sent.status_code == 201
    assert sent.json()["kind"] == "template"
    assert sent.json()["text"] == "Hi Marta, your order #1234 shipped."
    with in_schema(alpha.schema_name):
        # the sandbox provider took it at once (tasks run inline in these tests)
        assert Message.objects.get(pk=sent.json()["id"]).status == "sent"

    wrong = admin.post(
        f"/api/v1/conversations/{conversation}/messages",
        {
            "template": {"name": "order_update", "variables": ["only one"]},
        },
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["field"] == "template.variables"
    unknown = admin.post(f"/api/v1/conversations/{conversation}/messages", {"template": {"name": "nope"}})
    assert unknown.status_code == 422


def test_actions_write_the_timeline(setup, alpha):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    admin = s["client"][s["admin"]]
    url = f"/api/v1/conversations/{conversation}"
    admin.post(f"{url}/assign", {"assignee_id": s["ana"].pk})
    admin.post(f"{url}/transfer", {"agent_id": s["bruno"].pk, "reason": "speaks Spanish"})
    admin.post(f"{url}/priority", {"priority": "urgent"})
    admin.post(f"{url}/labels", {"add": ["vip", "billing"]})
    admin.post(f"{url}/labels", {"remove": ["billing"]})
    admin.post(f"{url}/notes", {"text": "Customer is upset, be gentle"})
    admin.post(f"{url}/close", {"reason": "solved", "outcome": "sale", "outcome_value": "120.50"})
    reopened = admin.post(f"{url}/reopen")

    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["labels"] == ["vip"] and reopened.json()["priority"] == "urgent"
    kinds = [event["kind"] for event in admin.get(f"{url}/timeline").json()["items"]]
    assert kinds[:3] == ["status_changed", "assigned", "transferred"]
    assert {"priority_changed", "labels_changed", "note_added"} <= set(kinds)
    assert kinds.count("status_changed") >= 3
    notes = admin.get(f"{url}/notes").json()["items"]
    assert [n["text"] for n in notes] == ["Customer is upset, be gentle"]


def test_reading_clears_the_unread_count(setup, alpha):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    admin = s["client"][s["admin"]]
    assert admin.get(f"/api/v1/conversations/{conversation}").json()["unread_count"] == 1
    assert admin.post(f"/api/v1/conversations/{conversation}/read").json()["unread_count"] == 0


def test_scheduled_messages_are_sent_when_due_and_can_be_cancelled(setup, alpha, in_schema):
    from apps.conversations.models import ScheduledMessage
    from apps.conversations.tasks import scheduled_messages_send

    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    admin = s["client"][s["admin"]]
    soon = (timezone.now() + dt.timedelta(minutes=5)).isoformat()
    first = admin.post(
        f"/api/v1/conversations/{conversation}/scheduled-messages", {"text": "Reminder", "send_at": soon}
    )
    second = admin.post(
        f"/api/v1/conversations/{conversation}/scheduled-messages", {"text": "Other", "send_at": soon}
    )
    assert first.status_code == 201
    assert (
        admin.delete(
            f"/api/v1/conversations/{conversation}/scheduled-messages/{second.json()['id']}"
        ).status_code
        == 200
    )
    past = admin.post(
        f"/api/v1/conversations/{conversation}/scheduled-messages",
        {"text": "x", "send_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat()},
    )
    assert past.status_code == 422

    with in_schema(alpha.schema_name):
        ScheduledMessage.objects.filter(pk=first.json()["id"]).update(send_at=timezone.now())
    assert scheduled_messages_send.call_local(alpha.schema_name) == 1
    statuses = {
        item["text"]: item["status"]
        for item in admin.get(f"/api/v1/conversations/{conversation}/scheduled-messages").json()["items"]
    }
    assert statuses == {"Reminder": "sent", "Other": "cancelled"}


def test_a_conversation_of_another_company_is_404(api, setup, alpha, bravo, in_schema):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    bravo_admin = make_user(bravo, role="admin")
    client = api(bravo, token=api(bravo).login(bravo_admin.email)["access"])

    assert client.get(f"/api/v1/conversations/{conversation}").status_code == 404
    assert client.post(f"/api/v1/conversations/{conversation}/close", {}).status_code == 404
    assert client.post(f"/api/v1/conversations/{conversation}/messages", {"text": "hi"}).status_code == 404
    with in_schema(alpha.schema_name):
        assert Conversation.objects.get(pk=conversation).status == "queued"


def test_api_keys_need_the_conversation_scopes(api, setup, alpha):
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    _, reader = make_api_key(alpha, scopes=["conversations:read"])
    client = api(alpha, headers={"X-Api-Key": reader})
    assert client.get("/api/v1/conversations").status_code == 200
    assert client.post(f"/api/v1/conversations/{conversation}/close", {}).status_code == 403


def test_quick_replies_are_personal_or_shared(setup, alpha):
    s = setup
    ana, admin = s["client"][s["ana"]], s["client"][s["admin"]]
    assert (
        ana.post(
            "/api/v1/quick-replies", {"shortcut": "hello", "content": "Hi {{contact.name}}!"}
        ).status_code
        == 201
    )
    assert (
        ana.post("/api/v1/quick-replies", {"shortcut": "x", "content": "y", "personal": False}).status_code
        == 403
    )
    assert (
        admin.post(
            "/api/v1/quick-replies", {"shortcut": "thanks", "content": "Thank you!", "personal": False}
        ).status_code
        == 201
    )
    assert {r["shortcut"] for r in ana.get("/api/v1/quick-replies").json()["items"]} == {"hello", "thanks"}
    bruno = s["client"][s["bruno"]]
    assert {r["shortcut"] for r in bruno.get("/api/v1/quick-replies").json()["items"]} == {"thanks"}


def test_list_items_match_the_schema(setup, alpha, in_schema):
    """The list writes its rows itself (it is the hottest route): they must say exactly what the
    conversation's own route says, field for field, in the same JSON formats."""
    s = setup
    conversation = conversation_of(alpha, s["inbox"])
    admin = s["client"][s["admin"]]
    admin.post(f"/api/v1/conversations/{conversation}/assign", {"assignee_id": s["ana"].pk})
    admin.post(f"/api/v1/conversations/{conversation}/labels", {"add": ["vip"]})
    admin.post(f"/api/v1/conversations/{conversation}/close",
               {"reason": "done", "outcome": "sale", "outcome_value": "12.50"})
    listed = admin.get("/api/v1/conversations?limit=100").json()["items"]
    detail = admin.get(f"/api/v1/conversations/{conversation}").json()
    [item] = [item for item in listed if item["id"] == conversation]
    assert item == detail
    assert detail["outcome_value"] == "12.50" and detail["labels"] == ["vip"]
    assert detail["within_service_window"] is True and detail["closed_at"].endswith("Z")
