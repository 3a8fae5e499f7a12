"""Campaign message variables: `{{contact.first_name}}`, `{{contact.custom.plan}}`… filled per contact.

Known names are checked when a campaign is saved (an unknown one is a 422 naming it), so a send never
meets a variable it cannot fill; a contact lacking a value gets an empty string.
"""

import re

from django.utils.translation import gettext as _

from apps.contacts.models import Contact, CustomFieldDefinition
from conversa.errors import ValidationFailed

VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
CONTACT_FIELDS = {
    "contact.name": lambda contact: contact.name or "",
    "contact.first_name": lambda contact: (contact.name or "").split(" ")[0] if contact.name else "",
    "contact.phone": lambda contact: contact.phone,
    "contact.email": lambda contact: contact.email or "",
    "contact.company": lambda contact: contact.company_name or "",
    "contact.city": lambda contact: contact.city or "",
    "contact.country": lambda contact: contact.country or "",
}
CUSTOM_PREFIX = "contact.custom."


def variables_in(text: str) -> list[str]:
    return [match.group(1) for match in VARIABLE.finditer(text or "")]


def check_variables(field: str, text: str) -> None:
    """422 for the first variable that is not a contact field nor a defined custom field."""
    names = variables_in(text)
    if not names:
        return
    custom_keys = None
    for name in names:
        if name in CONTACT_FIELDS:
            continue
        if name.startswith(CUSTOM_PREFIX):
            if custom_keys is None:
                custom_keys = set(CustomFieldDefinition.objects.values_list("key", flat=True))
            if name[len(CUSTOM_PREFIX):] in custom_keys:
                continue
        raise ValidationFailed(details=[{
            "field": field,
            "message": _("Unknown variable {{%(name)s}}.") % {"name": name},
        }])


def render(text: str, contact: Contact) -> str:
    """`text` with every variable replaced by the contact's value (empty when it has none)."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in CONTACT_FIELDS:
            return CONTACT_FIELDS[name](contact)
        if name.startswith(CUSTOM_PREFIX):
            found = (contact.custom_fields or {}).get(name[len(CUSTOM_PREFIX):])
            return "" if found is None else str(found)
        return match.group(0)

    return VARIABLE.sub(value, text or "")
