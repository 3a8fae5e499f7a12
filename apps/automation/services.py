"""Writing automation rules and macros, and running a macro on a conversation.

Rules are company settings (admins, `automation.manage`); macros are personal (their author's) or
shared (managers, `macros.share`). Every write validates the whole rule or macro first (422 naming
`conditions[i].<field>` or `actions[i].<field>`) and writes nothing when refused; changes to rules
and macros are audited.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.automation import actions as automation_actions
from apps.automation import conditions as automation_conditions
from apps.automation.models import Macro, Rule
from apps.automation.selectors import may_edit_macro
from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.selectors import conversation_get_for
from conversa.errors import DomainError, NotFound, ValidationFailed

RULE_FIELDS = ("name", "event", "conditions", "actions", "active", "position")
MACRO_FIELDS = ("name", "actions", "visibility")


def _name(value, errors: list) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 100:
        errors.append({"field": "name", "message": _("1 to 100 characters.")})
        return ""
    return value.strip()


def _clean_rule(values: dict) -> dict:
    errors: list[dict] = []
    cleaned = {"name": _name(values.get("name"), errors)}
    if values.get("event") not in Rule.Event.values:
        errors.append({"field": "event", "message": _("One of: %(events)s.")
                       % {"events": ", ".join(Rule.Event.values)}})
    cleaned["event"] = values.get("event")
    cleaned["conditions"], details = automation_conditions.validate(values.get("conditions", []))
    errors += details
    cleaned["actions"], details = automation_actions.validate(values.get("actions"))
    errors += details
    if not isinstance(values.get("active", True), bool):
        errors.append({"field": "active", "message": _("true or false.")})
    cleaned["active"] = values.get("active", True)
    position = values.get("position", 0)
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 10_000:
        errors.append({"field": "position", "message": _("0 to 10000.")})
    cleaned["position"] = position
    if errors:
        raise ValidationFailed(details=errors)
    return cleaned


def _snapshot(rule: Rule) -> dict:
    return {field: getattr(rule, field) for field in RULE_FIELDS}


def rule_create(*, actor: Actor, values: dict, request=None) -> Rule:
    permissions.check(actor, "automation.manage")
    cleaned = _clean_rule(values)
    with transaction.atomic():
        rule = Rule.objects.create(created_by=permissions.acting_user(actor), **cleaned)
        audit_record(action="automation.rule_created", entity_type="automation_rule", entity_id=rule.pk,
                     actor=actor, changes={key: [None, value] for key, value in cleaned.items()},
                     request=request)
    return rule


def rule_update(*, actor: Actor, rule: Rule, values: dict, request=None) -> Rule:
    """Change some fields; the rule as it would become is validated as a whole."""
    permissions.check(actor, "automation.manage")
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        before = _snapshot(rule)
        cleaned = _clean_rule({**before, **{key: values[key] for key in RULE_FIELDS if key in values}})
        changes = {key: [before[key], value] for key, value in cleaned.items() if before[key] != value}
        if changes:
            for key, value in cleaned.items():
                setattr(rule, key, value)
            rule.save()
            audit_record(action="automation.rule_updated", entity_type="automation_rule", entity_id=rule.pk,
                         actor=actor, changes=changes, request=request)
    return rule


def rule_delete(*, actor: Actor, rule: Rule, request=None) -> None:
    permissions.check(actor, "automation.manage")
    with transaction.atomic():
        audit_record(action="automation.rule_deleted", entity_type="automation_rule", entity_id=rule.pk,
                     actor=actor, changes={"name": [rule.name, None]}, request=request)
        rule.delete()


def _clean_macro(values: dict) -> dict:
    errors: list[dict] = []
    cleaned = {"name": _name(values.get("name"), errors)}
    if values.get("visibility") not in Macro.Visibility.values:
        errors.append({"field": "visibility", "message": _("personal or shared.")})
    cleaned["visibility"] = values.get("visibility")
    cleaned["actions"], details = automation_actions.validate(values.get("actions"))
    errors += details
    if errors:
        raise ValidationFailed(details=errors)
    return cleaned


def _check_macro_visibility(actor: Actor, visibility: str) -> None:
    if visibility == Macro.Visibility.SHARED:
        permissions.check(actor, "macros.share")
    else:
        permissions.check(actor, "macros.use")
        if not isinstance(actor, User):
            raise ValidationFailed(details=[{"field": "visibility",
                                             "message": _("An API key keeps no personal macros.")}])


def macro_create(*, actor: Actor, values: dict) -> Macro:
    values = {"visibility": Macro.Visibility.PERSONAL, **values}
    _check_macro_visibility(actor, values.get("visibility"))
    cleaned = _clean_macro(values)
    with transaction.atomic():
        macro = Macro.objects.create(created_by=permissions.acting_user(actor), **cleaned)
        audit_record(action="automation.macro_created", entity_type="macro", entity_id=macro.pk,
                     actor=actor, changes={key: [None, value] for key, value in cleaned.items()})
    return macro


def macro_update(*, actor: Actor, macro: Macro, values: dict) -> Macro:
    """Its author changes a personal macro, managers a shared one (403 for others who see it)."""
    if not may_edit_macro(actor, macro):
        permissions.check(actor, "macros.share")
        raise NotFound()
    cleaned = _clean_macro({**{key: getattr(macro, key) for key in MACRO_FIELDS},
                            **{key: values[key] for key in MACRO_FIELDS if key in values}})
    _check_macro_visibility(actor, cleaned["visibility"])
    author = actor.pk if isinstance(actor, User) else None
    if cleaned["visibility"] == Macro.Visibility.PERSONAL and macro.created_by_id != author:
        # Making someone else's shared macro personal would hand it to its author silently.
        raise ValidationFailed(details=[{"field": "visibility", "message": _("Only its author keeps it.")}])
    changes = {
        key: [getattr(macro, key), value] for key, value in cleaned.items() if getattr(macro, key) != value
    }
    if not changes:
        return macro
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(macro, key, value)
        macro.save()
        audit_record(action="automation.macro_updated", entity_type="macro", entity_id=macro.pk,
                     actor=actor, changes=changes)
    return macro


def macro_delete(*, actor: Actor, macro: Macro) -> None:
    if not may_edit_macro(actor, macro):
        permissions.check(actor, "macros.share")
        raise NotFound()
    with transaction.atomic():
        audit_record(action="automation.macro_deleted", entity_type="macro", entity_id=macro.pk,
                     actor=actor, changes={"name": [macro.name, None]})
        macro.delete()


class MacroActionFailed(DomainError):
    """One action of a macro was refused; nothing of the macro was kept. Same status and code as the
    refusal, its details under `actions[i]`."""

    def __init__(self, index: int, action: dict, error: DomainError):
        self.status, self.code = error.status, error.code
        message = _("Action %(number)d (%(type)s) failed: %(reason)s") % {
            "number": index + 1, "type": action["type"], "reason": error.message}
        details = [{"field": f"actions[{index}]", "message": error.message}]
        details += [{"field": f"actions[{index}].{detail.get('field', '')}".rstrip("."),
                     "message": detail.get("message", "")} for detail in error.details]
        super().__init__(message, details=details, headers=error.headers)


def macro_run(*, actor: Actor, macro: Macro, conversation: Conversation) -> Conversation:
    """Apply every action of the macro to the conversation, or none: one transaction, each action
    with the actor's own rights (404 if the actor may not see the conversation, 403 for an action it
    may not take); messages go to the provider only after the commit."""
    permissions.check(actor, "macros.use")
    conversation = conversation_get_for(actor, conversation.pk)
    with transaction.atomic():
        for index, action in enumerate(macro.actions):
            try:
                automation_actions.apply(action, conversation=conversation, actor=actor, source=macro.name)
            except DomainError as error:
                raise MacroActionFailed(index, action, error) from error
        TimelineEvent.objects.create(
            conversation=conversation, actor=permissions.acting_user(actor), kind="macro_run",
            data={"macro_id": macro.pk, "macro_name": macro.name,
                  "actions": [action["type"] for action in macro.actions]},
        )
        audit_record(action="automation.macro_run", entity_type="conversation", entity_id=conversation.pk,
                     actor=actor, changes={"macro": [None, macro.name],
                                           "actions": [None, [a["type"] for a in macro.actions]]})
    return Conversation.objects.select_related("contact", "inbox").get(pk=conversation.pk)
