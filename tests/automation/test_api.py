"""`/api/v1/automation-rules` and `/api/v1/macros`: who may do what, bad input named by its place,
company isolation, and a macro that runs all its actions or none."""

import pytest
from django_tenants.utils import schema_context

from apps.automation.models import Macro, Rule, RuleExecution
from apps.automation.services import macro_create
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_assign
from apps.teams.models import TeamMember
from tests.automation.conftest import fresh, make_rule, outbound_texts
from tests.conversations.test_sla import make_team
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db

def run(client, conversation_id, macro_id):
    return client.post(f"/api/v1/conversations/{conversation_id}/macros/{macro_id}")


RULE = {"name": "Refunds", "event": "message.created",
        "conditions": [{"type": "text_contains", "words": ["refund"]}],
        "actions": [{"type": "add_label", "label": "refund"}]}


def test_admins_manage_rules_and_agents_and_supervisors_are_refused(alpha, desk):
    admin = desk["api"]["admin"]
    created = admin.post("/api/v1/automation-rules", RULE)
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert admin.patch(f"/api/v1/automation-rules/{rule_id}", {"active": False}).json()["active"] is False
    assert [item["id"] for item in admin.get("/api/v1/automation-rules").json()["items"]] == [rule_id]

    for role in ("agent", "supervisor"):
        client = desk["api"][role]
        assert client.get("/api/v1/automation-rules").status_code == 403
        assert client.post("/api/v1/automation-rules", RULE).status_code == 403
        assert client.patch(f"/api/v1/automation-rules/{rule_id}", {"name": "x"}).status_code == 403
        assert client.delete(f"/api/v1/automation-rules/{rule_id}").status_code == 403
    assert admin.delete(f"/api/v1/automation-rules/{rule_id}").status_code == 204
    with schema_context(alpha.schema_name):
        assert not Rule.objects.filter(pk=rule_id).exists()


def test_a_bad_condition_or_action_is_named_by_its_place_and_nothing_is_saved(alpha, desk):
    body = {**RULE, "conditions": [RULE["conditions"][0], {"type": "text_contains", "words": []}],
            "actions": [{"type": "set_priority", "priority": "sky-high"}]}
    response = desk["api"]["admin"].post("/api/v1/automation-rules", body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {detail["field"] for detail in error["details"]} == {"conditions[1].words", "actions[0].priority"}
    with schema_context(alpha.schema_name):
        assert not Rule.objects.exists()


def test_another_companys_admin_and_keys_cannot_reach_alphas_rules_or_macros(alpha, bravo, desk, api):
    rule_id = desk["api"]["admin"].post("/api/v1/automation-rules", RULE).json()["id"]
    macro_id = desk["api"]["admin"].post("/api/v1/macros", {
        "name": "Triage", "visibility": "shared", "actions": [{"type": "add_label", "label": "x"}],
    }).json()["id"]
    bravo_admin = make_user(bravo, role="admin")
    bravo_client = api(bravo, token=api(bravo).login(bravo_admin.email)["access"])
    with schema_context(bravo.schema_name):
        assert not Rule.objects.filter(pk=rule_id).exists() and not Macro.objects.filter(pk=macro_id).exists()
    assert bravo_client.get(f"/api/v1/automation-rules/{rule_id}").status_code == 404
    assert bravo_client.patch(f"/api/v1/automation-rules/{rule_id}", {"active": False}).status_code == 404
    assert bravo_client.get(f"/api/v1/macros/{macro_id}").status_code == 404
    assert bravo_client.delete(f"/api/v1/macros/{macro_id}").status_code == 404
    bravo_conversation = receive(bravo, make_inbox(bravo), text="hi")
    assert bravo_client.post(
        f"/api/v1/conversations/{bravo_conversation.conversation_id}/macros/{macro_id}").status_code == 404
    # alpha's token on bravo's host is refused outright
    token = api(alpha).login(desk["people"]["admin"].email)["access"]
    assert api(bravo, token=token).get("/api/v1/macros").status_code == 401
    with schema_context(alpha.schema_name):
        assert Rule.objects.get(pk=rule_id).active is True


def test_rules_are_never_managed_with_an_api_key_but_shared_macros_run_with_one(alpha, desk, api):
    _, key = make_api_key(alpha, scopes=["conversations:read", "conversations:write"])
    client = api(alpha, headers={"X-Api-Key": key})
    assert client.get("/api/v1/automation-rules").status_code == 403
    macro_id = desk["api"]["admin"].post("/api/v1/macros", {
        "name": "VIP", "visibility": "shared", "actions": [{"type": "add_label", "label": "vip"}],
    }).json()["id"]
    message = receive(alpha, desk["inbox"], text="hi")
    response = client.post(f"/api/v1/conversations/{message.conversation_id}/macros/{macro_id}")
    assert response.status_code == 200, response.content
    assert response.json()["labels"] == ["vip"]


def test_agents_keep_personal_macros_and_only_managers_write_shared_ones(alpha, desk):
    agent, supervisor = desk["api"]["agent"], desk["api"]["supervisor"]
    mine = agent.post("/api/v1/macros", {"name": "Mine", "actions": [{"type": "add_label", "label": "a"}]})
    assert mine.status_code == 201 and mine.json()["visibility"] == "personal"
    assert agent.post("/api/v1/macros", {"name": "Ours", "visibility": "shared",
                                         "actions": [{"type": "add_label", "label": "a"}]}).status_code == 403
    shared = supervisor.post("/api/v1/macros", {"name": "Ours", "visibility": "shared",
                                                "actions": [{"type": "add_label", "label": "a"}]}).json()
    # the agent sees the shared one and their own; the supervisor does not see the agent's
    assert {m["name"] for m in agent.get("/api/v1/macros").json()["items"]} == {"Mine", "Ours"}
    assert {m["name"] for m in supervisor.get("/api/v1/macros").json()["items"]} == {"Ours"}
    assert supervisor.get(f"/api/v1/macros/{mine.json()['id']}").status_code == 404
    assert agent.patch(f"/api/v1/macros/{shared['id']}", {"name": "Hijacked"}).status_code == 403
    assert agent.delete(f"/api/v1/macros/{shared['id']}").status_code == 403
    assert agent.patch(f"/api/v1/macros/{mine.json()['id']}", {"name": "Renamed"}).json()["name"] == "Renamed"


def test_macro_writes_are_audited_with_who_and_what_changed(alpha, desk):
    from apps.audit.models import AuditLog

    supervisor = desk["api"]["supervisor"]
    created = supervisor.post("/api/v1/macros", {"name": "Ours", "visibility": "shared",
                                                 "actions": [{"type": "add_label", "label": "a"}]}).json()
    supervisor.patch(f"/api/v1/macros/{created['id']}", {"name": "Ours too"})
    supervisor.patch(f"/api/v1/macros/{created['id']}", {"name": "Ours too"})  # no change, no entry
    assert supervisor.delete(f"/api/v1/macros/{created['id']}").status_code == 204

    with schema_context(alpha.schema_name):
        entries = list(AuditLog.objects.filter(entity_type="macro", entity_id=str(created["id"]))
                       .order_by("id").values_list("action", "changes", "actor_id"))
    assert [action for action, _, _ in entries] == [
        "automation.macro_created", "automation.macro_updated", "automation.macro_deleted"]
    assert entries[1][1] == {"name": ["Ours", "Ours too"]}
    assert entries[2][1] == {"name": ["Ours too", None]}
    assert {actor for _, _, actor in entries} == {desk["people"]["supervisor"].pk}


def test_a_macro_runs_every_action_and_sends_after_commit(alpha, desk, django_capture_on_commit_callbacks):
    agent = desk["people"]["agent"]
    message = receive(alpha, desk["inbox"], text="hello")
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=fresh(alpha, message.conversation_id), assignee=agent, actor=None)
        macro = macro_create(actor=agent, values={"name": "Wrap up", "actions": [
            {"type": "add_label", "label": "billing"}, {"type": "set_priority", "priority": "high"},
            {"type": "send_message", "text": "Anything else?"}, {"type": "close", "reason": "done"}]})
    with django_capture_on_commit_callbacks(execute=True):
        response = run(desk["api"]["agent"], message.conversation_id, macro.pk)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["labels"], body["priority"], body["status"]) == (["billing"], "high", "closed")
    assert outbound_texts(alpha, message.conversation_id) == ["Anything else?"]
    outbox = desk["api"]["admin"].get(f"/api/v1/inboxes/{desk['inbox'].pk}/sandbox/outbox").json()["items"]
    assert [item["text"] for item in outbox] == ["Anything else?"]


def test_a_macro_whose_action_fails_midway_changes_and_sends_nothing(
    alpha, desk, django_capture_on_commit_callbacks
):
    agent = desk["people"]["agent"]
    team = make_team(alpha)
    message = receive(alpha, desk["inbox"], text="hello")
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=fresh(alpha, message.conversation_id), assignee=agent, actor=None)
        macro = macro_create(actor=desk["people"]["admin"], values={
            "name": "Escalate", "visibility": "shared", "actions": [
            {"type": "add_label", "label": "escalated"}, {"type": "set_priority", "priority": "urgent"},
            {"type": "send_message", "text": "Escalating now"}, {"type": "close"},
            {"type": "assign_team", "team_id": team.pk}]})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = run(desk["api"]["agent"], message.conversation_id, macro.pk)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"][0]["field"] == "actions[4]" and "assign_team" in error["message"]
    conversation = fresh(alpha, message.conversation_id)
    assert (conversation.labels, conversation.priority, conversation.status) == ([], "normal", "open")
    assert conversation.team_id is None
    assert outbound_texts(alpha, message.conversation_id) == []
    assert callbacks == []


def test_a_macro_on_a_conversation_the_agent_cannot_see_is_404(alpha, desk):
    other = make_user(alpha, name="Otto Other")
    message = receive(alpha, desk["inbox"], text="hello")
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=fresh(alpha, message.conversation_id), assignee=other, actor=None)
        macro = macro_create(actor=desk["people"]["agent"], values={
            "name": "Mine", "actions": [{"type": "add_label", "label": "x"}]})
    response = run(desk["api"]["agent"], message.conversation_id, macro.pk)
    assert response.status_code == 404
    assert fresh(alpha, message.conversation_id).labels == []


def test_an_agent_cannot_hand_a_conversation_to_someone_else_through_a_macro(alpha, desk):
    other = make_user(alpha, name="Otto Other")
    message = receive(alpha, desk["inbox"], text="hello")
    with schema_context(alpha.schema_name):
        macro = macro_create(actor=desk["people"]["agent"], values={
            "name": "Give away", "actions": [{"type": "add_label", "label": "x"},
                                             {"type": "assign_agent", "user_id": other.pk}]})
    response = run(desk["api"]["agent"], message.conversation_id, macro.pk)
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["field"] == "actions[1]"
    conversation = fresh(alpha, message.conversation_id)
    assert conversation.labels == [] and conversation.assignee_id is None


def test_a_rule_does_not_assign_an_agent_who_has_no_room(alpha, desk, django_capture_on_commit_callbacks):
    agent = desk["people"]["agent"]
    team = make_team(alpha)
    with schema_context(alpha.schema_name):
        TeamMember.objects.create(team=team, user=agent, capacity=1)
    first, second = (receive(alpha, desk["inbox"], text="hi") for _ in range(2))
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=fresh(alpha, first.conversation_id), assignee=agent, actor=None)
        Conversation.objects.filter(pk=second.conversation_id).update(team=team)
        phone = Conversation.objects.get(pk=second.conversation_id).contact.phone
    make_rule(alpha, actor=desk["people"]["admin"], actions=[
        {"type": "assign_agent", "user_id": agent.pk}, {"type": "add_label", "label": "tried"}])
    with django_capture_on_commit_callbacks(execute=True):
        receive(alpha, desk["inbox"], phone=phone, text="again")
    conversation = fresh(alpha, second.conversation_id)
    # the agent is full: the rule records the refusal and still applies its other actions
    assert conversation.assignee_id is None and conversation.labels == ["tried"]
    with schema_context(alpha.schema_name):
        assert RuleExecution.objects.get().results[0] == {
            "type": "assign_agent", "ok": False, "error": "agent_at_capacity"}
