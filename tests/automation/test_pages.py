"""Settings → Automation and Macros pages, and the conversation's Macros menu, through the test
client: who sees what, the editor's form saved through the services, errors by row, isolation."""

import pytest
from django_tenants.utils import schema_context

from apps.automation.models import Macro, Rule
from apps.automation.services import macro_create
from apps.conversations.services import conversation_assign
from tests.automation.conftest import fresh, make_rule
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def test_an_admin_writes_a_rule_in_the_editor_and_switches_it_off(alpha, desk):
    browser = signed_in(alpha, desk["people"]["admin"])
    assert b"New rule" in browser.get("/app/settings/automation/").content
    editor = browser.get("/app/settings/automation/new/")
    assert editor.status_code == 200 and b'name="c-0-type"' in editor.content
    saved = browser.post("/app/settings/automation/new/", {
        "name": "Refunds", "event": "message.created", "active": "on", "position": "0",
        "c-0-type": "text_contains", "c-0-words": "refund, reembolso", "c-1-type": "",
        "a-0-type": "add_label", "a-0-label": "refund", "a-1-type": "set_priority", "a-1-priority": "high",
    })
    assert saved.status_code == 302
    with schema_context(alpha.schema_name):
        rule = Rule.objects.get(name="Refunds")
        assert rule.conditions == [{"type": "text_contains", "words": ["refund", "reembolso"]}]
        assert rule.actions == [{"type": "add_label", "label": "refund"},
                                {"type": "set_priority", "priority": "high"}]
    assert b"Refunds" in browser.get("/app/settings/automation/").content
    browser.post(f"/app/settings/automation/{rule.pk}/toggle/")
    with schema_context(alpha.schema_name):
        assert Rule.objects.get(pk=rule.pk).active is False


def test_the_editor_names_the_row_of_a_bad_condition_and_saves_nothing(alpha, desk):
    browser = signed_in(alpha, desk["people"]["admin"])
    page = browser.post("/app/settings/automation/new/", {
        "name": "Broken", "event": "message.created", "c-0-type": "text_contains", "c-0-words": "",
        "a-0-type": "add_label", "a-0-label": "x"})
    assert page.status_code == 422 and "Condition 1, words" in page.content.decode()
    with schema_context(alpha.schema_name):
        assert not Rule.objects.exists()


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_automation_settings_are_404_for_non_admins_who_keep_their_macros(alpha, desk, role):
    rule = make_rule(alpha, actor=desk["people"]["admin"], actions=[{"type": "add_label", "label": "x"}])
    browser = signed_in(alpha, desk["people"][role])
    for path in ("/app/settings/automation/", "/app/settings/automation/new/",
                 f"/app/settings/automation/{rule.pk}/"):
        assert browser.get(path).status_code == 404
    assert browser.post(f"/app/settings/automation/{rule.pk}/delete/").status_code == 404
    assert browser.get("/app/settings/macros/").status_code == 200
    created = browser.post("/app/settings/macros/new/", {"name": "Mine", "visibility": "personal",
                                                         "a-0-type": "add_label", "a-0-label": "x"})
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        assert Rule.objects.filter(pk=rule.pk).exists()
        assert Macro.objects.get(name="Mine").created_by_id == desk["people"][role].pk


def test_the_macros_menu_runs_a_macro_and_another_companys_user_cannot(alpha, bravo, desk):
    agent = desk["people"]["agent"]
    message = receive(alpha, desk["inbox"], text="hello")
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=fresh(alpha, message.conversation_id), assignee=agent, actor=None)
        macro = macro_create(actor=agent, values={"name": "VIP treatment", "actions": [
            {"type": "add_label", "label": "vip"}, {"type": "set_priority", "priority": "urgent"}]})
    browser = signed_in(alpha, agent)
    page = browser.get(f"/app/c/{message.conversation_id}/")
    assert b"VIP treatment" in page.content and b'id="mention-list"' in page.content
    outsider = signed_in(bravo, make_user(bravo, role="admin"))
    assert outsider.post(f"/app/c/{message.conversation_id}/macros/{macro.pk}/").status_code == 404
    assert fresh(alpha, message.conversation_id).labels == []

    pane = browser.post(f"/app/c/{message.conversation_id}/macros/{macro.pk}/", HX_REQUEST="true")
    assert pane.status_code == 200
    conversation = fresh(alpha, message.conversation_id)
    assert (conversation.labels, conversation.priority) == (["vip"], "urgent")
    assert "ran the macro “VIP treatment”" in pane.content.decode()
