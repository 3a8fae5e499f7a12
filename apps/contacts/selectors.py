"""Reads of the contacts app: the filtered, searchable list and single fetches."""

import re

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.contacts.custom_fields import parse_filter
from apps.contacts.models import Contact, CustomFieldDefinition, normalize_tag
from apps.contacts.search import accent_free_contains
from conversa.errors import NotFound

# A query made only of these reads as a phone number: "+55 (11) 98765", "98765-4321".
_PHONE_QUERY = re.compile(r"^[\d\s()+.\-]+$")


def contact_search(q: str) -> Q:
    """Contacts whose name (ignoring accents and case: "joao" finds "João") or email contains `q`, or
    whose phone contains its digits when `q` reads as a phone number; an empty `q` matches all."""
    q = q.strip()
    if not q:
        return Q()
    search = Q(accent_free_contains("name", q)) | Q(email__icontains=q)
    digits = re.sub(r"\D", "", q)
    if digits and _PHONE_QUERY.match(q):
        search |= Q(phone__icontains=digits)  # the trigram index is on UPPER(phone)
    return search


def contact_list(
    *, q: str | None = None, tag: str | None = None, lead_status: str | None = None,
    custom_field: str | None = None, opted_out: bool | None = None, blocked: bool | None = None,
) -> QuerySet[Contact]:
    """Contacts (not deleted) matching every given filter; unordered (the caller paginates).

    `q` searches name (accent- and case-blind) and email (case-blind), anywhere in the text, and the
    phone by its digits, so "+55 11 98765" finds "+5511987654321" (`contact_search`).
    `custom_field` is "key=value" (422 for an unknown key).
    """
    contacts = Contact.objects.all()
    q = (q or "").strip()
    if q:
        contacts = contacts.filter(contact_search(q))
    if tag:
        # @> (array contains) is what the GIN index on tags serves.
        contacts = contacts.filter(tags__contains=[normalize_tag(tag)])
    if lead_status:
        contacts = contacts.filter(lead_status=lead_status)
    if custom_field:
        contacts = contacts.filter(custom_fields__contains=parse_filter(custom_field))
    if opted_out is not None:
        contacts = contacts.filter(opted_out=opted_out)
    if blocked is not None:
        contacts = contacts.filter(blocked=blocked)
    return contacts


def contact_get(*, contact_id: int) -> Contact:
    """A contact of the current company that is not deleted, or 404."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(_("Contact not found."))
    return contact


def custom_field_get(*, key: str) -> CustomFieldDefinition:
    definition = CustomFieldDefinition.objects.filter(key=key).first()
    if definition is None:
        raise NotFound(_("Custom field not found."))
    return definition


def contact_list_for(actor, **filters) -> QuerySet[Contact]:
    """`contact_list` for someone: every role reads the company's contacts; API keys need
    `contacts:read` (403 otherwise)."""
    permissions.check(actor, "contacts.read")
    return contact_list(**filters)


def contact_get_for(actor, contact_id: int) -> Contact:
    permissions.check(actor, "contacts.read")
    return contact_get(contact_id=contact_id)


def custom_fields_visible_to(actor) -> QuerySet[CustomFieldDefinition]:
    permissions.check(actor, "contacts.read")
    return CustomFieldDefinition.objects.all()
