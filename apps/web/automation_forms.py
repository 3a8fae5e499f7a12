"""The rule and macro editors' rows, read from a posted form into the lists the services validate.

Each condition row posts `c-<i>-type` and the inputs of its type; each action row `a-<i>-type` and
its inputs. A row whose type is empty is left out. The services then validate the whole list and
name any error by its place (`conditions[1].words`), which `row_errors` turns back into row numbers.
"""

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.automation.actions import ACTION_LABELS
from apps.automation.conditions import TYPES as CONDITION_TYPES
from apps.conversations.models import Conversation, Message

CONDITION_LABELS = {
    "inbox": gettext_lazy("Inbox is one of"), "text_contains": gettext_lazy("Message contains any of"),
    "direction": gettext_lazy("Message direction is"), "label": gettext_lazy("Conversation has the label"),
    "business_hours": gettext_lazy("Business hours"), "contact_field": gettext_lazy("Contact field"),
    "status": gettext_lazy("Status is one of"),
}
EXTRA_ROWS = 2
_PLACE = re.compile(r"^(conditions|actions)\[(\d+)\](?:\.(.+))?$")


def _words(text: str) -> list[str]:
    return [word.strip() for word in (text or "").split(",") if word.strip()]


def _int(text):
    text = (text or "").strip()
    return int(text) if text.lstrip("-").isdigit() else text or None


def _ints(values) -> list:
    return [_int(value) for value in values if (value or "").strip()]


def _rows(data, prefix: str) -> list[int]:
    numbers = {int(match.group(1)) for key in data
               if (match := re.match(rf"^{prefix}-(\d+)-type$", key))}
    return sorted(number for number in numbers if data.get(f"{prefix}-{number}-type"))


def conditions_from(data) -> list[dict]:
    conditions = []
    for i in _rows(data, "c"):
        get = lambda name, i=i: data.get(f"c-{i}-{name}", "")  # noqa: E731
        kind = get("type")
        condition = {"type": kind}
        if kind == "inbox":
            condition["inbox_ids"] = _ints(data.getlist(f"c-{i}-inbox_ids"))
        elif kind == "text_contains":
            condition["words"] = _words(get("words"))
        elif kind == "direction":
            condition["direction"] = get("direction")
        elif kind == "label":
            condition["label"] = get("label")
        elif kind == "business_hours":
            condition["when"] = get("when")
        elif kind == "contact_field":
            condition.update(field=get("field").strip(), operator=get("operator"), value=get("value"))
        elif kind == "status":
            condition["statuses"] = data.getlist(f"c-{i}-statuses")
        conditions.append(condition)
    return conditions


def actions_from(data) -> list[dict]:
    actions = []
    for i in _rows(data, "a"):
        get = lambda name, i=i: data.get(f"a-{i}-{name}", "")  # noqa: E731
        kind = get("type")
        action = {"type": kind}
        if kind == "assign_team":
            action["team_id"] = _int(get("team_id"))
        elif kind == "assign_agent":
            action["user_id"] = _int(get("user_id"))
        elif kind in ("add_label", "remove_label"):
            action["label"] = get("label")
        elif kind == "set_priority":
            action["priority"] = get("priority")
        elif kind in ("send_message", "notify"):
            action["text"] = get("text")
            if kind == "notify":
                action["user_ids"] = _ints(data.getlist(f"a-{i}-user_ids"))
                action["team_id"] = _int(get("team_id"))
        elif kind == "send_template":
            action.update(name=get("name"), language=get("language").strip(),
                          variables=_words(get("variables")))
        elif kind == "close":
            action["reason"] = get("text")
        elif kind == "snooze":
            action["minutes"] = _int(get("minutes"))
        actions.append(action)
    return actions


def row_errors(details: list[dict]) -> list[str]:
    """The service's error details as the editor's reader sees them ("Condition 2, words: …")."""
    lines = []
    for detail in details:
        match = _PLACE.match(str(detail.get("field", "")))
        message = detail.get("message", "")
        if match is None:
            lines.append(f"{detail.get('field', '')}: {message}")
            continue
        what = _("Condition %(n)d") if match.group(1) == "conditions" else _("Action %(n)d")
        place = what % {"n": int(match.group(2)) + 1}
        lines.append(f"{place}, {match.group(3)}: {message}" if match.group(3) else f"{place}: {message}")
    return lines


def editor_rows(items: list[dict]) -> list[dict]:
    """The saved rows plus a few empty ones to add to."""
    return [*items, *({} for _ in range(EXTRA_ROWS))]


def choices() -> dict:
    """The fixed choices the editor's selects offer."""
    return {
        "condition_types": [(kind, CONDITION_LABELS[kind]) for kind in CONDITION_TYPES],
        "action_types": list(ACTION_LABELS.items()),
        "directions": Message.Direction.choices,
        "statuses": Conversation.Status.choices,
        "priorities": Conversation.Priority.choices,
    }
