"""Events of the contacts app and the realtime frames built from them."""

from apps.contacts.models import Contact, ContactImport
from apps.contacts.realtime import contact_audience
from conversa.realtime.fanout import realtime_payload, realtime_payloads

CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
CONTACT_DELETED = "contact.deleted"
# A contact's personal data was erased (`contacts_ids`, `conversation_ids`): apps holding copies of it
# (webhook deliveries, bot sessions) forget them.
CONTACT_ERASED = "contact.erased"


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


def contact_frames(events):
    found = Contact.objects.in_bulk({event.data["contact_id"] for event in events})
    # A contact deleted since has its own event to tell the clients. Only the sockets showing the
    # contact (following it, or one of its conversations) get it: sending every change to the whole
    # staff cost a frame per socket for each new customer of a busy company.
    return [
        (contact_data(contact), contact_audience(contact.pk))
        if (contact := found.get(event.data["contact_id"])) else None
        for event in events
    ]


realtime_payloads(CONTACT_CREATED)(contact_frames)
realtime_payloads(CONTACT_UPDATED)(contact_frames)


@realtime_payload(CONTACT_DELETED)
def contact_deleted_frame(event):
    contact = Contact.all_objects.filter(pk=event.data["contact_id"], deleted_at__isnull=False).first()
    if contact is None:
        return None
    return {"id": contact.pk, "deleted_at": contact.deleted_at.isoformat()}, contact_audience(contact.pk)


# An import's counters, to the user who started it and to admins (SPEC §13 `import.progress`).
IMPORT_PROGRESS = "import.progress"


@realtime_payload(IMPORT_PROGRESS)
def import_progress_frame(event):
    from_row = ContactImport.objects.filter(pk=event.data["import_id"]).first()
    if from_row is None:
        return None
    audience = ["admins"] + ([f"user.{from_row.created_by_id}"] if from_row.created_by_id else [])
    return import_progress_data(from_row), audience


def import_progress_data(record: ContactImport) -> dict:
    return {
        "id": record.pk, "status": record.status, "total": record.total, "processed": record.processed,
        "imported": record.imported, "updated": record.updated, "skipped": record.skipped,
    }
