"""Automation rules: they fire once per matching event (however often the worker runs), never on
their own consequences, only on their company's events, and the timeline and audit show them."""

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from apps.automation.models import Rule, RuleExecution
from apps.automation.tasks import rules_run
from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.services import conversation_close
from apps.notifications.models import Notification
from apps.teams.models import TeamMember
from tests.automation.conftest import fresh, make_rule, outbound_texts
from tests.conversations.test_automations import closed_now_hours
from tests.conversations.test_sla import make_team, team_inbox
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive

pytestmark = pytest.mark.django_db

REFUNDS = [{"type": "text_contains", "words": ["reembolso", "refund"]},
           {"type": "direction", "direction": "inbound"}]
TRIAGE = [{"type": "add_label", "label": "refund"}, {"type": "set_priority", "priority": "urgent"}]


def test_a_matching_message_is_labelled_and_prioritised_once_even_when_the_task_runs_again(
    alpha, desk, django_capture_on_commit_callbacks
):
    rule = make_rule(alpha, actor=desk["people"]["admin"], conditions=REFUNDS, actions=TRIAGE)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, desk["inbox"], text="Quiero mi REEMBÓLSO, por favor")

    conversation = fresh(alpha, message.conversation_id)
    assert conversation.labels == ["refund"] and conversation.priority == "urgent"
    # The same event evaluated again (a retried task) changes nothing and counts nothing.
    item = {"event": "message.created", "key": f"message:{message.pk}", "message_id": message.pk}
    with django_capture_on_commit_callbacks(execute=True):
        assert rules_run.call_local(alpha.schema_name, [item]) == 0
    with schema_context(alpha.schema_name):
        assert RuleExecution.objects.filter(rule=rule).count() == 1
        assert Rule.objects.get(pk=rule.pk).run_count == 1
        entries = list(TimelineEvent.objects.filter(conversation_id=conversation.pk, kind="automation_rule"))
        assert [entry.data["rule_name"] for entry in entries] == ["Rule"]
        assert entries[0].data["results"] == [
            {"type": "add_label", "ok": True}, {"type": "set_priority", "ok": True}]
        fired = AuditLog.objects.get(action="automation.rule_fired", entity_id=str(conversation.pk))
        assert fired.changes["rule"][1]["id"] == rule.pk


def test_a_message_without_the_words_is_left_alone(alpha, desk, django_capture_on_commit_callbacks):
    make_rule(alpha, actor=desk["people"]["admin"], conditions=REFUNDS, actions=TRIAGE)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, desk["inbox"], text="Where is my order?")
    conversation = fresh(alpha, message.conversation_id)
    assert conversation.labels == [] and conversation.priority == "normal"


def test_a_rule_that_sends_on_every_message_does_not_answer_its_own_message(
    alpha, desk, django_capture_on_commit_callbacks
):
    admin = desk["people"]["admin"]
    make_rule(alpha, actor=admin, name="Echo", actions=[{"type": "send_message", "text": "We got it!"}])
    # A second rule that would act on any message, the first rule's included.
    make_rule(alpha, actor=admin, name="Tag", actions=[{"type": "add_label", "label": "seen"}])
    phone = new_phone()
    with django_capture_on_commit_callbacks(execute=True):
        first = receive(alpha, desk["inbox"], phone=phone, text="Hello")
    with django_capture_on_commit_callbacks(execute=True):
        receive(alpha, desk["inbox"], phone=phone, text="Hello again")

    assert outbound_texts(alpha, first.conversation_id) == ["We got it!", "We got it!"]
    with schema_context(alpha.schema_name):
        assert RuleExecution.objects.filter(rule__name="Tag").count() == 2
        assert RuleExecution.objects.filter(rule__name="Echo").count() == 2


def test_a_rule_on_status_changes_acts_when_a_conversation_closes(
    alpha, desk, django_capture_on_commit_callbacks
):
    make_rule(alpha, actor=desk["people"]["admin"], event="conversation.status_changed",
              conditions=[{"type": "status", "statuses": ["closed"]}],
              actions=[{"type": "add_label", "label": "done"}])
    message = receive(alpha, desk["inbox"], text="Thanks, bye")
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        conversation_close(conversation=fresh(alpha, message.conversation_id), actor=desk["people"]["admin"])
    assert fresh(alpha, message.conversation_id).labels == ["done"]


def test_conditions_on_inbox_and_contact_fields(alpha, desk, django_capture_on_commit_callbacks):
    other_inbox = make_inbox(alpha, name="Sales")
    make_rule(alpha, actor=desk["people"]["admin"], event="conversation.created",
              conditions=[{"type": "inbox", "inbox_ids": [other_inbox.pk]},
                          {"type": "contact_field", "field": "lead_status", "operator": "equals",
                           "value": "NEW"}],
              actions=[{"type": "add_label", "label": "sales-lead"}])
    with django_capture_on_commit_callbacks(execute=True):
        support = receive(alpha, desk["inbox"], text="Hi")
        sales = receive(alpha, other_inbox, text="Hi")
    assert fresh(alpha, support.conversation_id).labels == []
    assert fresh(alpha, sales.conversation_id).labels == ["sales-lead"]


def test_an_inactive_rule_does_not_fire(alpha, desk, django_capture_on_commit_callbacks):
    make_rule(alpha, actor=desk["people"]["admin"], actions=TRIAGE, active=False)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, desk["inbox"], text="refund")
    assert fresh(alpha, message.conversation_id).labels == []


def test_alphas_rules_never_fire_on_bravos_events(alpha, bravo, desk, django_capture_on_commit_callbacks):
    rule = make_rule(alpha, actor=desk["people"]["admin"], actions=TRIAGE)
    bravo_inbox = make_inbox(bravo)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(bravo, bravo_inbox, text="refund please")
    assert fresh(bravo, message.conversation_id).labels == []
    with schema_context(alpha.schema_name):
        assert Rule.objects.get(pk=rule.pk).run_count == 0
    # bravo's event handed to a task in alpha's schema finds no such message there to act on
    with schema_context(bravo.schema_name):
        assert not RuleExecution.objects.exists()


def test_business_hours_are_the_conversations_team_or_else_the_inboxs_default_team(
    alpha, desk, django_capture_on_commit_callbacks
):
    closed_now = make_team(alpha, business_hours=closed_now_hours())
    always_open = make_team(alpha)
    closed_inbox = team_inbox(alpha, closed_now)
    make_rule(alpha, actor=desk["people"]["admin"],
              conditions=[{"type": "business_hours", "when": "outside"}],
              actions=[{"type": "add_label", "label": "after-hours"}])
    with django_capture_on_commit_callbacks(execute=True):
        by_inbox = receive(alpha, closed_inbox, text="hello?")
        open_inbox = receive(alpha, desk["inbox"], text="hello?")
    assert fresh(alpha, by_inbox.conversation_id).labels == ["after-hours"]
    assert fresh(alpha, open_inbox.conversation_id).labels == []
    # the conversation's own team wins over the inbox's
    with schema_context(alpha.schema_name):
        Conversation.objects.filter(pk=by_inbox.conversation_id).update(team=always_open, labels=[])
        phone = Conversation.objects.get(pk=by_inbox.conversation_id).contact.phone
    with django_capture_on_commit_callbacks(execute=True):
        receive(alpha, closed_inbox, phone=phone, text="still there?")
    assert fresh(alpha, by_inbox.conversation_id).labels == []


def test_a_notify_action_reaches_only_those_who_may_see_the_conversation(
    alpha, desk, django_capture_on_commit_callbacks
):
    team = make_team(alpha)
    outsider = make_user(alpha, role="supervisor", name="Olga Outsider")
    with schema_context(alpha.schema_name):
        TeamMember.objects.create(team=team, user=desk["people"]["supervisor"])
        TeamMember.objects.create(team=make_team(alpha), user=outsider)
    inbox = team_inbox(alpha, team)
    make_rule(alpha, actor=desk["people"]["admin"], event="conversation.created", actions=[
        {"type": "notify", "user_ids": [outsider.pk], "team_id": team.pk, "text": "New lead"}])
    with django_capture_on_commit_callbacks(execute=True):
        receive(alpha, inbox, name="Lia Lead", text="hi")
    with schema_context(alpha.schema_name):
        told = list(Notification.objects.filter(kind="automation").values_list("user_id", "title", "body"))
    assert told == [(desk["people"]["supervisor"].pk, "Rule: conversation with Lia Lead", "New lead")]
