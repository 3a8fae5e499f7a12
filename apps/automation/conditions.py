"""Conditions of automation rules: validated when a rule is saved, evaluated for one event.

Every condition of a rule must hold. Each is `{"type": …, …}`:

- `{"type": "inbox", "inbox_ids": [1, 2]}`: the conversation is in one of these inboxes;
- `{"type": "text_contains", "words": ["refund", "reembolso"]}`: the message (for conversation
  events, the conversation's latest inbound message) contains any of them, ignoring case and accents;
- `{"type": "direction", "direction": "inbound" | "outbound"}`: the event's message goes that way
  (never holds for events without a message);
- `{"type": "label", "label": "vip"}`: the conversation has the label;
- `{"type": "business_hours", "when": "within" | "outside"}`: at the event's time, by the hours of
  the conversation's team, else of the inbox's default team (no team: always within);
- `{"type": "contact_field", "field": "tags" | "lead_status" | <custom field key>,
  "operator": "equals" | "contains", "value": "…"}` (case- and accent-blind; for tags, "equals" is
  one of the tags equal to the value, "contains" one containing it);
- `{"type": "status", "statuses": ["open", "pending"]}`: the conversation's status is one of these.
"""

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from apps.contacts.custom_fields import KEY_RE
from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.inboxes.models import Inbox
from apps.teams.hours import is_open

TYPES = ("inbox", "text_contains", "direction", "label", "business_hours", "contact_field", "status")
CONTACT_FIELDS = ("tags", "lead_status")
MAX_CONDITIONS = 20
MAX_VALUES = 50
MAX_TEXT = 200


@dataclass
class Facts:
    """What the conditions look at for one event (read once per event, shared by every rule)."""

    event: str
    conversation: Conversation
    message: Message | None
    at: datetime
    # The latest inbound text, for conversation events (read lazily, at most once).
    _text: str | None = None

    @property
    def text(self) -> str:
        if self.message is not None:
            return self.message.text
        if self._text is None:
            self._text = (
                self.conversation.messages
                .filter(direction=Message.Direction.INBOUND, deleted_at__isnull=True)
                .order_by("-created_at", "-id").values_list("text", flat=True).first() or ""
            )
        return self._text


def fold(text) -> str:
    """Text as compared: without accents, case-folded ("JOÃO" and "joao" are equal)."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def _hours_of(conversation: Conversation) -> dict | None:
    team = conversation.team or conversation.inbox.default_team
    return team.business_hours if team is not None else None


def _contact_value_matches(contact: Contact, condition: dict) -> bool:
    field, operator, wanted = condition["field"], condition["operator"], fold(condition["value"])
    if field == "tags":
        values = [fold(tag) for tag in contact.tags]
    elif field == "lead_status":
        values = [fold(contact.lead_status)]
    else:
        value = (contact.custom_fields or {}).get(field)
        if value is None:
            return False
        values = [fold(item) for item in value] if isinstance(value, list) else [fold(value)]
    if operator == "equals":
        return wanted in values
    return any(wanted in value for value in values)


def holds(condition: dict, facts: Facts) -> bool:
    kind, conversation = condition["type"], facts.conversation
    if kind == "inbox":
        return conversation.inbox_id in condition["inbox_ids"]
    if kind == "text_contains":
        text = fold(facts.text)
        return any(fold(word) in text for word in condition["words"])
    if kind == "direction":
        return facts.message is not None and facts.message.direction == condition["direction"]
    if kind == "label":
        return condition["label"] in conversation.labels
    if kind == "business_hours":
        within = is_open(_hours_of(conversation), facts.at)
        return within if condition["when"] == "within" else not within
    if kind == "contact_field":
        return _contact_value_matches(conversation.contact, condition)
    if kind == "status":
        return conversation.status in condition["statuses"]
    return False


def all_hold(conditions: list[dict], facts: Facts) -> bool:
    return all(holds(condition, facts) for condition in conditions)


def _error(index: int, field: str, message: str) -> dict:
    return {"field": f"conditions[{index}].{field}", "message": message}


def _strings(value, *, index: int, field: str, errors: list, max_length: int = MAX_TEXT) -> list[str]:
    if (not isinstance(value, list) or not value or len(value) > MAX_VALUES
            or not all(isinstance(item, str) and 0 < len(item.strip()) <= max_length for item in value)):
        errors.append(_error(index, field, _("A list of 1 to %(n)d non-empty texts.") % {"n": MAX_VALUES}))
        return []
    return [item.strip() for item in value]


def validate(conditions) -> tuple[list[dict], list[dict]]:
    """The conditions as stored (only known keys) and the §13 error details (field
    `conditions[i].<key>`); the conditions are usable only when there are no details."""
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        return [], [{"field": "conditions",
                     "message": _("A list of at most %(n)d conditions.") % {"n": MAX_CONDITIONS}}]
    cleaned, errors = [], []
    for index, condition in enumerate(conditions):
        if not isinstance(condition, dict) or condition.get("type") not in TYPES:
            errors.append(_error(index, "type", _("One of: %(types)s.") % {"types": ", ".join(TYPES)}))
            continue
        kind = condition["type"]
        if kind == "inbox":
            ids = condition.get("inbox_ids")
            if (not isinstance(ids, list) or not ids or len(ids) > MAX_VALUES
                    or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63
                               for i in ids)):
                errors.append(_error(index, "inbox_ids", _("A list of inbox ids.")))
                continue
            known = set(Inbox.objects.filter(pk__in=ids).values_list("pk", flat=True))
            if known != set(ids):
                errors.append(_error(index, "inbox_ids", _("Unknown inbox.")))
                continue
            cleaned.append({"type": kind, "inbox_ids": sorted(set(ids))})
        elif kind == "text_contains":
            words = _strings(condition.get("words"), index=index, field="words", errors=errors)
            if words:
                cleaned.append({"type": kind, "words": words})
        elif kind == "direction":
            if condition.get("direction") not in Message.Direction.values:
                errors.append(_error(index, "direction", _("inbound or outbound.")))
                continue
            cleaned.append({"type": kind, "direction": condition["direction"]})
        elif kind == "label":
            label = condition.get("label")
            if not isinstance(label, str) or not 0 < len(label.strip()) <= 50:
                errors.append(_error(index, "label", _("1 to 50 characters.")))
                continue
            cleaned.append({"type": kind, "label": label.strip()})
        elif kind == "business_hours":
            if condition.get("when") not in ("within", "outside"):
                errors.append(_error(index, "when", _("within or outside.")))
                continue
            cleaned.append({"type": kind, "when": condition["when"]})
        elif kind == "contact_field":
            field, operator, value = condition.get("field"), condition.get("operator"), condition.get("value")
            if not isinstance(field, str) or not (field in CONTACT_FIELDS or KEY_RE.match(field)):
                errors.append(_error(index, "field", _("tags, lead_status or a custom field key.")))
                continue
            if operator not in ("equals", "contains"):
                errors.append(_error(index, "operator", _("equals or contains.")))
                continue
            if not isinstance(value, str | int | float) or isinstance(value, bool) \
                    or not 0 < len(str(value).strip()) <= MAX_TEXT:
                errors.append(_error(index, "value", _("1 to %(n)d characters.") % {"n": MAX_TEXT}))
                continue
            cleaned.append({"type": kind, "field": field, "operator": operator, "value": str(value).strip()})
        elif kind == "status":
            statuses = condition.get("statuses")
            if (not isinstance(statuses, list) or not statuses
                    or not all(status in Conversation.Status.values for status in statuses)):
                errors.append(_error(index, "statuses", _("A list of conversation statuses.")))
                continue
            cleaned.append({"type": kind, "statuses": list(dict.fromkeys(statuses))})
    return cleaned, errors
