"""Actions of automation rules and macros: validated when saved, applied through the
conversations services (never by writing their rows), each with the permission of whoever acts.

Each is `{"type": …, …}`:

- `{"type": "assign_team", "team_id": 3}`: into the team's queue (`conversation_transfer`);
- `{"type": "assign_agent", "user_id": 7}`: to an active user with room (their open and pending
  conversations below their capacity in the conversation's team, else the default capacity);
- `{"type": "add_label" | "remove_label", "label": "vip"}`;
- `{"type": "set_priority", "priority": "urgent"}`;
- `{"type": "send_message", "text": "…"}` and
  `{"type": "send_template", "name": "…", "language": "en", "variables": ["…"]}`: queued in the
  caller's transaction, handed to the provider only after it commits;
- `{"type": "close", "reason"?: "…"}`;
- `{"type": "snooze", "minutes": 60}`;
- `{"type": "notify", "user_ids": [1, 2], "team_id"?: 3, "text": "…"}`: those users and the
  team's supervisors, each only if they may see the conversation, in their own language.

`actor` is the user or key running a macro (its rights apply to every action), or None for a rule
(the company itself, as the greeting and routing act; who may write rules is checked when saved).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.conversations.models import Conversation
from apps.conversations.outbound import message_send
from apps.conversations.routing import open_load
from apps.conversations.selectors import may_see_conversation
from apps.conversations.services import (
    conversation_assign,
    conversation_close,
    conversation_set_labels,
    conversation_set_priority,
    conversation_snooze,
    conversation_transfer,
)
from apps.notifications.services import notify
from apps.teams.models import DEFAULT_CAPACITY, Team, TeamMember
from conversa.errors import Conflict, ValidationFailed

TYPES = (
    "assign_team", "assign_agent", "add_label", "remove_label", "set_priority", "send_message",
    "send_template", "close", "snooze", "notify",
)
# What each action is called in the UI and the timeline.
ACTION_LABELS = {
    "assign_team": gettext_lazy("Assign to a team"), "assign_agent": gettext_lazy("Assign to an agent"),
    "add_label": gettext_lazy("Add a label"), "remove_label": gettext_lazy("Remove a label"),
    "set_priority": gettext_lazy("Set the priority"), "send_message": gettext_lazy("Send a message"),
    "send_template": gettext_lazy("Send a template"), "close": gettext_lazy("Close"),
    "snooze": gettext_lazy("Snooze"), "notify": gettext_lazy("Notify"),
}
MAX_ACTIONS = 10
MAX_SNOOZE_MINUTES = 60 * 24 * 90


class AgentAtCapacity(Conflict):
    code = "agent_at_capacity"


def _error(index: int, field: str, message: str) -> dict:
    return {"field": f"actions[{index}].{field}", "message": message}


def _text(value, limit: int) -> str | None:
    return value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= limit else None


def _id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63 else None


def _ids(value) -> list[int] | None:
    if not isinstance(value, list) or len(value) > 50:
        return None
    if not all(_id(item) is not None for item in value):
        return None
    return sorted(set(value))


def validate(actions) -> tuple[list[dict], list[dict]]:
    """The actions as stored and the §13 error details (field `actions[i].<key>`)."""
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        return [], [{"field": "actions", "message": _("1 to %(n)d actions.") % {"n": MAX_ACTIONS}}]
    cleaned, errors = [], []
    for index, action in enumerate(actions):
        if not isinstance(action, dict) or action.get("type") not in TYPES:
            errors.append(_error(index, "type", _("One of: %(types)s.") % {"types": ", ".join(TYPES)}))
            continue
        kind = action["type"]
        if kind == "assign_team":
            team_id = _id(action.get("team_id"))
            if team_id is None or not Team.objects.filter(pk=team_id).exists():
                errors.append(_error(index, "team_id", _("Unknown team.")))
                continue
            cleaned.append({"type": kind, "team_id": team_id})
        elif kind == "assign_agent":
            user_id = _id(action.get("user_id"))
            if user_id is None or not User.objects.filter(pk=user_id, is_active=True).exists():
                errors.append(_error(index, "user_id", _("Unknown or inactive user.")))
                continue
            cleaned.append({"type": kind, "user_id": user_id})
        elif kind in ("add_label", "remove_label"):
            label = _text(action.get("label"), 50)
            if label is None:
                errors.append(_error(index, "label", _("1 to 50 characters.")))
                continue
            cleaned.append({"type": kind, "label": label})
        elif kind == "set_priority":
            if action.get("priority") not in Conversation.Priority.values:
                errors.append(_error(index, "priority", _("One of: %(values)s.")
                                     % {"values": ", ".join(Conversation.Priority.values)}))
                continue
            cleaned.append({"type": kind, "priority": action["priority"]})
        elif kind == "send_message":
            text = _text(action.get("text"), 4096)
            if text is None:
                errors.append(_error(index, "text", _("1 to 4096 characters.")))
                continue
            cleaned.append({"type": kind, "text": text})
        elif kind == "send_template":
            name, language = _text(action.get("name"), 512), action.get("language") or ""
            variables = action.get("variables") or []
            if name is None:
                errors.append(_error(index, "name", _("A template name.")))
                continue
            if not isinstance(language, str) or len(language) > 15:
                errors.append(_error(index, "language", _("A language code.")))
                continue
            if not isinstance(variables, list) or not all(
                    isinstance(value, str | int | float) for value in variables):
                errors.append(_error(index, "variables", _("A list of texts.")))
                continue
            cleaned.append({"type": kind, "name": name, "language": language,
                            "variables": [str(value) for value in variables]})
        elif kind == "close":
            reason = action.get("reason") or ""
            if not isinstance(reason, str) or len(reason) > 200:
                errors.append(_error(index, "reason", _("At most 200 characters.")))
                continue
            cleaned.append({"type": kind, "reason": reason.strip()})
        elif kind == "snooze":
            minutes = action.get("minutes")
            if (not isinstance(minutes, int) or isinstance(minutes, bool)
                    or not 1 <= minutes <= MAX_SNOOZE_MINUTES):
                errors.append(_error(index, "minutes", _("1 to %(n)d minutes.") % {"n": MAX_SNOOZE_MINUTES}))
                continue
            cleaned.append({"type": kind, "minutes": minutes})
        elif kind == "notify":
            user_ids, team_id = _ids(action.get("user_ids") or []), action.get("team_id")
            text = _text(action.get("text"), 200)
            if user_ids is None or len(set(user_ids)) != User.objects.filter(pk__in=user_ids).count():
                errors.append(_error(index, "user_ids", _("A list of user ids.")))
                continue
            if team_id is not None and (_id(team_id) is None or not Team.objects.filter(pk=team_id).exists()):
                errors.append(_error(index, "team_id", _("Unknown team.")))
                continue
            if not user_ids and team_id is None:
                errors.append(_error(index, "user_ids", _("Name users or a team.")))
                continue
            if text is None:
                errors.append(_error(index, "text", _("1 to 200 characters.")))
                continue
            cleaned.append({"type": kind, "user_ids": user_ids, "team_id": team_id, "text": text})
    return cleaned, errors


def _assign_agent(conversation: Conversation, user_id: int, actor: Actor | None) -> None:
    """Assign unless the user is already at capacity: their row is locked while counting, as routing
    does, so concurrent assignments never take them over it."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None:
            raise ValidationFailed(details=[{"field": "user_id", "message": _("Unknown or inactive user.")}])
        holder = Conversation.objects.filter(pk=conversation.pk).values_list("assignee_id", flat=True).first()
        if holder == user.pk:
            return
        membership = TeamMember.objects.filter(team_id=conversation.team_id, user=user).first() \
            if conversation.team_id else None
        capacity = membership.capacity if membership else DEFAULT_CAPACITY
        if open_load(user.pk) >= capacity:
            raise AgentAtCapacity(_("%(name)s has no room for another conversation.")
                                  % {"name": user.name or user.email})
        conversation_assign(conversation=conversation, assignee=user, actor=actor,
                            by="automation" if actor is None else "")


def _notify(conversation: Conversation, action: dict, *, source: str) -> None:
    users = list(User.objects.filter(pk__in=action["user_ids"], is_active=True))
    if action.get("team_id"):
        users += list(User.objects.filter(team_memberships__team_id=action["team_id"],
                                          role=User.Role.SUPERVISOR, is_active=True))
    conversation = Conversation.objects.select_related("contact").get(pk=conversation.pk)
    contact = conversation.contact.name or conversation.contact.phone
    for user in {user.pk: user for user in users}.values():
        if not may_see_conversation(user, conversation):
            continue
        with translation.override(user.language or None):
            title = _("%(source)s: conversation with %(contact)s") % {"source": source, "contact": contact}
        notify(users=[user], kind="automation", title=str(title), body=action["text"],
               data={"conversation_id": conversation.pk})


def apply(action: dict, *, conversation: Conversation, actor: Actor | None, source: str) -> None:
    """Apply one validated action in the caller's transaction; a refusal raises its DomainError.
    `source` names the rule or macro in notifications."""
    kind = action["type"]
    if kind == "assign_team":
        team = Team.objects.filter(pk=action["team_id"]).first()
        if team is None:
            raise ValidationFailed(details=[{"field": "team_id", "message": _("Unknown team.")}])
        conversation_transfer(conversation=conversation, actor=actor, team=team)
    elif kind == "assign_agent":
        _assign_agent(conversation, action["user_id"], actor)
    elif kind == "add_label":
        conversation_set_labels(conversation=conversation, add=[action["label"]], actor=actor)
    elif kind == "remove_label":
        conversation_set_labels(conversation=conversation, remove=[action["label"]], actor=actor)
    elif kind == "set_priority":
        conversation_set_priority(conversation=conversation, priority=action["priority"], actor=actor)
    elif kind == "send_message":
        message_send(conversation=conversation, author=actor, text=action["text"], automatic=actor is None)
    elif kind == "send_template":
        template = {"name": action["name"], "language": action["language"], "variables": action["variables"]}
        message_send(conversation=conversation, author=actor, template=template, automatic=actor is None)
    elif kind == "close":
        conversation_close(conversation=conversation, actor=actor, reason=action.get("reason", ""))
    elif kind == "snooze":
        until = timezone.now() + dt.timedelta(minutes=action["minutes"])
        conversation_snooze(conversation=conversation, until=until, actor=actor)
    elif kind == "notify":
        _notify(conversation, action, source=source)
