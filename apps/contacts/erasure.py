"""GDPR erasure of a contact's own row: the contacts' side of an erasure.

The conversations app (`apps.conversations.contact_erasure`) checks the actor, anonymises the
contact's conversations and files, and calls `contact_blank` inside its transaction.
"""

from django.utils import timezone

from apps.contacts.events import CONTACT_DELETED
from apps.contacts.models import Contact, ContactListMember
from conversa.events import publish

ERASED_NAME = "Erased contact"


def erased_phone(contact_id: int) -> str:
    """A placeholder no provider routes (country code 000), unique per contact, so the row keeps a
    phone and never clashes with a real one."""
    return f"+000{contact_id:011d}"


def contact_blank(*, contact: Contact) -> None:
    """Blank every personal field of the (locked) contact, drop its list memberships, and mark it
    erased and deleted. Keeps what reports count: lead status, opt-out and block flags, times."""
    now = timezone.now()
    contact.name = ERASED_NAME
    contact.phone = erased_phone(contact.pk)
    for field in ("email", "avatar_url", "language", "time_zone", "notes", "company_name", "city", "country"):
        setattr(contact, field, "")
    contact.tags, contact.custom_fields = [], {}
    contact.lead_score = 0
    contact.erased_at = now
    contact.deleted_at = contact.deleted_at or now
    contact.save()
    ContactListMember.objects.filter(contact=contact).delete()
    publish(CONTACT_DELETED, {"contact_id": contact.pk})
