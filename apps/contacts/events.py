"""Events of the contacts app and the realtime frames built from them."""

from apps.contacts.models import Contact
from conversa.realtime.fanout import realtime_payload

CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
CONTACT_DELETED = "contact.deleted"


def contact_data(contact: Contact) -> dict:
    return {
        "id": contact.pk,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "avatar_url": contact.avatar_url,
        "lead_status": contact.lead_status,
        "tags": list(contact.tags),
        "opted_out": contact.opted_out,
        "blocked": contact.blocked,
        "updated_at": contact.updated_at.isoformat(),
    }


def contact_frame(event):
    contact = Contact.objects.filter(pk=event.data["contact_id"]).first()
    if contact is None:  # deleted since: its own event tells the clients
        return None
    # Every role works with contacts (SPEC §3), so the whole staff sees the change.
    return contact_data(contact), ["staff"]


realtime_payload(CONTACT_CREATED)(contact_frame)
realtime_payload(CONTACT_UPDATED)(contact_frame)


@realtime_payload(CONTACT_DELETED)
def contact_deleted_frame(event):
    contact = Contact.all_objects.filter(pk=event.data["contact_id"], deleted_at__isnull=False).first()
    if contact is None:
        return None
    return {"id": contact.pk, "deleted_at": contact.deleted_at.isoformat()}, ["staff"]
