"""The complete audit trail (SPEC §12): every audited action, driven through the API as a user
would, leaves one entry naming the actor, the entity, the changed fields from → to, the IP and the
user agent; failed logins name the email typed and why; only admins (or a key allowed to) read it."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from django.utils import timezone

from apps.audit.changes import MASK
from apps.conversations.company_settings import company_set_reply_assigns
from tests.exports.test_exports import csv_rows, fetch
from tests.fixtures.factories import PASSWORD, make_api_key, make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive

pytestmark = pytest.mark.django_db

ANY = object()
BROWSER = "Mozilla/5.0 (audit test)"


@dataclass
class Row:
    """One audited action: how a user takes it, the entry it must leave, and one change it records
    (`pair` is [from, to]; ANY where the value is a moment)."""

    action: str
    entity_type: str
    do: Any  # (world) -> entity id
    field: str
    pair: list
    facts: dict = field(default_factory=dict)


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json() if response.content else None


@pytest.fixture
def world(api, alpha, in_schema):
    admin = make_user(alpha, role="admin")
    agent = make_user(alpha)
    client = api(alpha, token=api(alpha).login(admin.email)["access"], headers={"User-Agent": BROWSER})
    inbox = make_inbox(alpha)
    message = receive(alpha, inbox, phone=new_phone())
    return {"api": api, "company": alpha, "admin": admin, "agent": agent, "client": client,
            "conversation_id": message.conversation_id, "in_schema": in_schema}


def conversation(world, verb, body=None):
    ok(world["client"].post(f"/api/v1/conversations/{world['conversation_id']}/{verb}", body or {}))
    return world["conversation_id"]


def make_team(world):
    world["team_id"] = ok(world["client"].post("/api/v1/teams", {"name": "Billing"}), 201)["id"]
    return world["team_id"]


def make_contact(world):
    world["contact_id"] = ok(
        world["client"].post("/api/v1/contacts", {"phone": new_phone(), "name": "Ana"}), 201
    )["id"]
    return world["contact_id"]


def make_key(world):
    world["key_id"] = ok(world["client"].post("/api/v1/api-keys", {"name": "ci", "scopes": ["users:read"]}),
                         201)["id"]
    return world["key_id"]


def enable_two_factor(world):
    secret = ok(world["client"].post("/api/v1/auth/2fa/setup"))["secret"]
    ok(world["client"].post("/api/v1/auth/2fa/enable", {"code": pyotp.TOTP(secret).now()}))
    world["secret"] = secret
    return world["admin"].pk


def disable_two_factor(world):
    code = pyotp.TOTP(world["secret"]).at(timezone.now() + dt.timedelta(seconds=30))
    ok(world["client"].post("/api/v1/auth/2fa/disable", {"password": PASSWORD, "code": code}), 204)
    return world["admin"].pk


def reply_assigns_off(world):
    with world["in_schema"](world["company"].schema_name):
        company_set_reply_assigns(actor=world["admin"], enabled=False)
    return world["company"].pk


ROWS = [
    Row("contact.created", "contact", make_contact, "name", [None, "Ana"]),
    Row("contact.updated", "contact",
        lambda w: ok(w["client"].patch(f"/api/v1/contacts/{w['contact_id']}", {"name": "Ana Lima"}))["id"],
        "name", ["Ana", "Ana Lima"]),
    Row("contact.updated", "contact",
        lambda w: ok(w["client"].post(f"/api/v1/contacts/{w['contact_id']}/tags", {"tags": ["VIP"]}))["id"],
        "tags", [[], ["vip"]]),
    Row("conversation.assigned", "conversation",
        lambda w: conversation(w, "assign", {"assignee_id": w["agent"].pk}), "assignee_id", [None, ANY]),
    Row("conversation.priority_changed", "conversation",
        lambda w: conversation(w, "priority", {"priority": "high"}), "priority", ["normal", "high"]),
    Row("conversation.labels_changed", "conversation",
        lambda w: conversation(w, "labels", {"add": ["billing"]}), "labels", [[], ["billing"]]),
    Row("conversation.snoozed", "conversation",
        lambda w: conversation(w, "snooze", {"until": (timezone.now() + dt.timedelta(hours=2)).isoformat()}),
        "snoozed_until", [None, ANY]),
    Row("conversation.status_changed", "conversation",
        lambda w: conversation(w, "status", {"status": "open"}), "status", ["pending", "open"]),
    Row("conversation.unassigned", "conversation", lambda w: conversation(w, "unassign"),
        "assignee_id", [ANY, None]),
    Row("team.created", "team", make_team, "name", [None, "Billing"]),
    Row("conversation.transferred", "conversation",
        lambda w: conversation(w, "transfer", {"team_id": w["team_id"], "reason": "invoice"}),
        "team_id", [None, ANY], {"reason": "invoice"}),
    Row("conversation.closed", "conversation",
        lambda w: conversation(w, "close", {"reason": "solved"}), "status", ["queued", "closed"]),
    Row("conversation.reopened", "conversation", lambda w: conversation(w, "reopen"),
        "status", ["closed", "open"]),
    Row("team.updated", "team",
        lambda w: ok(w["client"].patch(f"/api/v1/teams/{w['team_id']}", {"name": "Payments"}))["id"],
        "name", ["Billing", "Payments"]),
    Row("contact.deleted", "contact",
        lambda w: ok(w["client"].delete(f"/api/v1/contacts/{w['contact_id']}"), 204) or w["contact_id"],
        "deleted_at", [None, ANY]),
    Row("user.role_changed", "user",
        lambda w: ok(w["client"].patch(f"/api/v1/users/{w['agent'].pk}", {"role": "supervisor"}))["id"],
        "role", ["agent", "supervisor"]),
    Row("user.deactivated", "user",
        lambda w: ok(w["client"].delete(f"/api/v1/users/{w['agent'].pk}"))["id"],
        "is_active", [True, False]),
    Row("invitation.created", "invitation",
        lambda w: ok(w["client"].post("/api/v1/users/invitations",
                                      {"email": "new.hire@example.com", "role": "agent"}), 201)["id"],
        "email", [None, "new.hire@example.com"]),
    Row("api_key.created", "api_key", make_key, "name", [None, "ci"]),
    Row("api_key.revoked", "api_key",
        lambda w: ok(w["client"].delete(f"/api/v1/api-keys/{w['key_id']}"), 204) or w["key_id"],
        "revoked_at", [None, ANY]),
    Row("inbox.created", "inbox",
        lambda w: ok(w["client"].post("/api/v1/inboxes", {
            "name": "Sales", "provider": "twilio",
            "credentials": {"account_sid": "AC123", "auth_token": "tw-secret-1", "from_number": "+15550001"},
        }), 201)["id"], "credentials.auth_token", [None, MASK]),
    Row("two_factor.enabled", "user", enable_two_factor, "two_factor", [False, True]),
    Row("two_factor.disabled", "user", disable_two_factor, "two_factor", [True, False]),
    Row("company.settings_changed", "company", reply_assigns_off, "reply_assigns", [True, False]),
]


def test_every_audited_action_records_its_actor_entity_and_changes_from_to(world):
    """One entry per action, newest first, holding the change and where the request came from."""
    client = world["client"]
    for row in ROWS:
        entity_id = row.do(world)
        (entry,) = ok(client.get(f"/api/v1/audit-logs?action={row.action}&limit=1"))["items"]
        label = f"{row.action}: {entry}"
        assert (entry["entity_type"], entry["entity_id"]) == (row.entity_type, str(entity_id)), label
        assert entry["actor_id"] == world["admin"].pk and entry["actor_email"] == world["admin"].email, label
        assert entry["success"] is True, label
        recorded = entry["changes"][row.field]
        assert [got if want is not ANY else ANY for got, want in zip(recorded, row.pair, strict=True)] == [
            ANY if want is ANY else want for want in row.pair
        ], label
        assert all(entry["changes"][name] == value for name, value in row.facts.items()), label
        if row.action != "company.settings_changed":  # a service called outside a request
            assert (entry["ip"], entry["user_agent"]) == ("127.0.0.1", BROWSER), label


def test_an_inbox_entry_never_holds_its_secrets(world):
    client = world["client"]
    inbox = ok(client.post("/api/v1/inboxes", {
        "name": "Sales", "provider": "twilio",
        "credentials": {"account_sid": "AC999", "auth_token": "tw-secret-1", "from_number": "+15550002"},
    }), 201)
    ok(client.patch(f"/api/v1/inboxes/{inbox['id']}",
                    {"name": "Sales BR", "credentials": {"auth_token": "tw-secret-2"}}))
    (updated,) = ok(client.get(f"/api/v1/audit-logs?action=inbox.updated&entity_id={inbox['id']}"))["items"]
    assert updated["changes"]["name"] == ["Sales", "Sales BR"]
    assert updated["changes"]["credentials.auth_token"] == [MASK, MASK]
    created = ok(client.get(f"/api/v1/audit-logs?action=inbox.created&entity_id={inbox['id']}"))["items"][0]
    assert created["changes"]["credentials.account_sid"] == [None, "AC999"]
    assert "tw-secret" not in str(updated) + str(created)


def test_failed_logins_record_the_email_typed_and_why_never_the_password(api, alpha):
    admin = make_user(alpha, role="admin")
    agent = make_user(alpha)
    api(alpha).post("/api/v1/auth/login", {"email": agent.email, "password": "Wrong-Pass-42"})
    api(alpha).post("/api/v1/auth/login", {"email": "nobody@example.com", "password": "Wrong-Pass-42"})
    client = api(alpha, token=api(alpha).login(admin.email)["access"])

    failed = ok(client.get("/api/v1/audit-logs?action=login_failed&success=false&limit=2"))["items"]
    assert [(log["changes"]["email"], log["changes"]["reason"]) for log in failed] == [
        ("nobody@example.com", "unknown_email"), (agent.email, "wrong_password"),
    ]
    assert failed[1]["entity_id"] == str(agent.pk) and failed[1]["actor_id"] is None
    assert "Wrong-Pass-42" not in str(failed)
    (login,) = ok(client.get(f"/api/v1/audit-logs?action=login&user={admin.pk}&limit=1"))["items"]
    assert login["success"] is True and login["ip"] == "127.0.0.1"


def test_filters_narrow_by_actor_key_entity_dates_and_outcome(api, alpha):
    admin = make_user(alpha, role="admin")
    other = make_user(alpha, role="admin")
    client = api(alpha, token=api(alpha).login(admin.email)["access"])
    api(alpha).login(other.email)
    key, secret = make_api_key(alpha, scopes=["contacts:write", "audit:read"], created_by=admin)
    keyed = api(alpha, headers={"Authorization": f"Bearer {secret}"})
    contact = ok(keyed.post("/api/v1/contacts", {"phone": new_phone(), "name": "By key"}), 201)

    by_key = ok(client.get(f"/api/v1/audit-logs?api_key={key.pk}"))["items"]
    assert [(log["action"], log["api_key_name"]) for log in by_key] == [("contact.created", "test key")]
    by_user = ok(client.get(f"/api/v1/audit-logs?user={other.pk}"))["items"]
    assert {log["action"] for log in by_user} == {"login"}
    entity = ok(client.get(f"/api/v1/audit-logs?entity_type=contact&entity_id={contact['id']}"))["items"]
    assert [log["action"] for log in entity] == ["contact.created"]
    today = timezone.now().date()
    assert ok(client.get(f"/api/v1/audit-logs?from={today}&to={today}&api_key={key.pk}"))["items"]
    tomorrow = today + dt.timedelta(days=1)
    assert ok(client.get(f"/api/v1/audit-logs?from={tomorrow}"))["items"] == []

    bad = client.get("/api/v1/audit-logs?from=yesterday")
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "from"
    backwards = client.get(f"/api/v1/audit-logs?from={tomorrow}&to={today}")
    assert backwards.status_code == 422 and backwards.json()["error"]["details"][0]["field"] == "to"
    assert client.get("/api/v1/audit-logs?user=abc").json()["error"]["details"][0]["field"] == "user"
    assert client.get("/api/v1/audit-logs?success=maybe").status_code == 422


def test_only_admins_and_keys_given_audit_read_see_the_log_of_their_own_company(api, alpha, bravo):
    alpha_admin = make_user(alpha, role="admin")
    bravo_admin = make_user(bravo, role="admin")
    bravo_client = api(bravo, token=api(bravo).login(bravo_admin.email)["access"])
    ok(bravo_client.post("/api/v1/contacts", {"phone": new_phone(), "name": "Bravo secret"}), 201)
    alpha_client = api(alpha, token=api(alpha).login(alpha_admin.email)["access"])

    seen = ok(alpha_client.get("/api/v1/audit-logs?limit=100"))["items"]
    assert seen and "Bravo secret" not in str(seen) and bravo_admin.email not in str(seen)
    # A token of company B on company A's host is refused.
    stolen = api(alpha, token=api(bravo).login(bravo_admin.email)["access"])
    assert stolen.get("/api/v1/audit-logs").status_code == 401

    for role in ("agent", "supervisor"):
        user = make_user(alpha, role=role)
        refused = api(alpha, token=api(alpha).login(user.email)["access"]).get("/api/v1/audit-logs")
        assert refused.status_code == 403, role
    _key, without = make_api_key(alpha, scopes=["contacts:read"], created_by=alpha_admin)
    assert api(alpha, headers={"Authorization": f"Bearer {without}"}).get(
        "/api/v1/audit-logs").status_code == 403
    _key, allowed = make_api_key(alpha, scopes=["audit:read"], created_by=alpha_admin)
    assert api(alpha, headers={"Authorization": f"Bearer {allowed}"}).get(
        "/api/v1/audit-logs").status_code == 200
    _key, bravo_key = make_api_key(bravo, scopes=["audit:read"], created_by=bravo_admin)
    assert api(alpha, headers={"Authorization": f"Bearer {bravo_key}"}).get(
        "/api/v1/audit-logs").status_code == 401


def test_the_csv_export_holds_the_entries_the_same_filters_show(
    api, alpha, django_capture_on_commit_callbacks,
):
    admin, other = make_user(alpha, role="admin"), make_user(alpha, role="admin")
    client = api(alpha, token=api(alpha).login(admin.email)["access"])
    api(alpha).login(other.email)
    filters = {"user": str(other.pk), "action": "login", "success": "true"}
    shown = ok(client.get(f"/api/v1/audit-logs?user={other.pk}&action=login&success=true"))["items"]

    with django_capture_on_commit_callbacks(execute=True):
        body = {"entity": "audit_logs", "format": "csv", "filters": filters}
        started = ok(client.post("/api/v1/exports", body), 202)
    export = ok(client.get(f"/api/v1/exports/{started['id']}"))
    rows = csv_rows(fetch(alpha, export["download_url"]))
    assert rows[0][:5] == ["id", "created_at", "actor", "api_key", "action"]
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(log["id"] for log in shown) and len(shown) == 1
    assert rows[1][2] == other.email

    bad = client.post("/api/v1/exports", {"entity": "audit_logs", "filters": {"success": "maybe"}})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "filters.success"
