"""The contacts list narrowed to a contact list's members or a segment's matches (`?list=`,
`?segment=` on the API and the contacts page)."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.contacts.audiences import in_lists_condition, segment_condition
from apps.contacts.models import Contact, ContactList
from apps.contacts.segments import segments_visible_to
from conversa.errors import ValidationFailed


def contacts_in_audience(
    contacts: QuerySet[Contact], *, actor: Actor, list_id: int | None = None, segment_id: int | None = None,
) -> QuerySet[Contact]:
    """`contacts` that are in the list and match the segment (each filter only when given); 422
    naming `list` or `segment` when there is no such one in this company."""
    if list_id is not None:
        permissions.check(actor, "audiences.read")
        if not ContactList.objects.filter(pk=list_id).exists():
            raise ValidationFailed(details=[{"field": "list", "message": _("No such list.")}])
        contacts = contacts.filter(in_lists_condition([list_id]))
    if segment_id is not None:
        segment = segments_visible_to(actor).filter(pk=segment_id).first()
        if segment is None:
            raise ValidationFailed(details=[{"field": "segment", "message": _("No such segment.")}])
        contacts = contacts.filter(segment_condition(segment.filters))
    return contacts
