"""Evaluating automation rules for committed events, in a worker (`tasks.rules_evaluate`).

Contracts:
- once per event: a rule fires inside one transaction that first inserts its `RuleExecution`
  (unique per rule and event key); a second evaluation of the same event (a retried or repeated
  task) finds the row and does nothing, and a crash before the commit leaves no row, so the retry
  fires it then;
- never on its own consequences: the actions run inside `caused_by(rule.cause)`, so every event
  they publish carries the marker and the listener drops it (`listeners.worth_evaluating`);
- an action a rule cannot take (a closed conversation to assign, a full agent, the service window)
  is recorded as failed with its error code and the rule's other actions still apply, each in a
  savepoint of its own; the timeline shows the rule and what it did, the audit log too.
"""

import datetime as dt
import logging
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.services import audit_record
from apps.automation import actions as automation_actions
from apps.automation.conditions import Facts, all_hold
from apps.automation.models import Rule, RuleExecution
from apps.conversations.models import Conversation, Message, TimelineEvent
from conversa.errors import DomainError
from conversa.events import caused_by

logger = logging.getLogger("conversa.automation")


def _conversation(conversation_id: int) -> Conversation | None:
    return (Conversation.objects.select_related("contact", "inbox__default_team", "team")
            .filter(pk=conversation_id).first())


def _facts(item: dict) -> Facts | None:
    at = dt.datetime.fromisoformat(item["at"]) if item.get("at") else timezone.now()
    message = None
    if item.get("message_id"):
        message = Message.objects.filter(pk=item["message_id"], deleted_at__isnull=True).first()
        if message is None:
            return None
        conversation_id = message.conversation_id
    else:
        conversation_id = item["conversation_id"]
    conversation = _conversation(conversation_id)
    if conversation is None:
        return None
    return Facts(event=item["event"], conversation=conversation, message=message, at=at)


def rules_evaluate(*, items: list[dict]) -> int:
    """Fire the active rules whose conditions hold for each event, in the rules' order. `items` are
    `{"event", "key", "conversation_id"? , "message_id"?, "at"}`; returns how many rules fired."""
    wanted = defaultdict(list)
    for rule in Rule.objects.filter(active=True, event__in={item["event"] for item in items}):
        wanted[rule.event].append(rule)
    fired, broken = 0, []
    for item in items:
        rules = wanted.get(item["event"])
        if not rules:
            continue
        facts = _facts(item)
        if facts is None:
            continue
        for rule in rules:
            try:
                if not (all_hold(rule.conditions, facts)
                        and rule_fire(rule=rule, facts=facts, event_key=item["key"])):
                    continue
            except Exception:
                # Rolled back, so not recorded: the task's retry fires it; the other rules go on.
                logger.exception("rule %s failed on %s", rule.pk, item["key"])
                broken.append(rule.pk)
                continue
            fired += 1
            if rule is not rules[-1]:
                # What the next rule sees is the conversation as this one left it.
                facts.conversation = _conversation(facts.conversation.pk) or facts.conversation
    if broken:
        raise RulesFailed(f"rules {sorted(set(broken))} failed; the retry fires them (the others are done)")
    return fired


class RulesFailed(RuntimeError):
    pass


def _claim(rule: Rule, event_key: str, conversation_id: int) -> int | None:
    """Insert the rule's execution for this event; its id, or None if one exists. A concurrent
    evaluation of the same event waits here on the unique index until the first one commits (then
    finds it) or rolls back (then takes over)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{RuleExecution._meta.db_table}" (rule_id, event_key, conversation_id, results, '
            "created_at) VALUES (%s, %s, %s, '[]'::jsonb, %s) ON CONFLICT (rule_id, event_key) DO NOTHING "
            "RETURNING id",
            [rule.pk, event_key[:100], conversation_id, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def rule_fire(*, rule: Rule, facts: Facts, event_key: str) -> bool:
    """Apply the rule's actions to the event's conversation unless it already fired for this
    event; False when it had."""
    conversation = facts.conversation
    with caused_by(rule.cause), transaction.atomic():
        execution_id = _claim(rule, event_key, conversation.pk)
        if execution_id is None:
            return False
        results = []
        for action in rule.actions:
            try:
                with transaction.atomic():
                    automation_actions.apply(action, conversation=conversation, actor=None, source=rule.name)
                results.append({"type": action["type"], "ok": True})
            except DomainError as error:
                logger.info("rule %s: %s refused on conversation %s: %s", rule.pk, action["type"],
                            conversation.pk, error.code)
                results.append({"type": action["type"], "ok": False, "error": error.code})
        RuleExecution.objects.filter(pk=execution_id).update(results=results)
        TimelineEvent.objects.create(
            conversation=conversation, actor=None, kind="automation_rule",
            data={"rule_id": rule.pk, "rule_name": rule.name, "event": facts.event, "results": results},
        )
        Rule.objects.filter(pk=rule.pk).update(run_count=F("run_count") + 1, last_run_at=timezone.now())
        audit_record(action="automation.rule_fired", entity_type="conversation", entity_id=conversation.pk,
                     changes={"rule": [None, {"id": rule.pk, "name": rule.name}], "actions": [None, results],
                              "event": [None, event_key]})
    return True
