"""Folding one contact into another: the contacts' side of a merge (fields, tags, lists).

Moving the conversations belongs to the conversations app (`apps.conversations.contact_merge`),
which checks the actor, locks both rows and calls `contact_fold` inside its transaction.
"""

from django.db import connection
from django.utils import timezone

from apps.contacts.events import CONTACT_DELETED, CONTACT_UPDATED
from apps.contacts.models import Contact, ContactListMember
from conversa.events import publish

# Filled from the other contact when the kept one has none.
FILLABLE_FIELDS = (
    "name", "email", "avatar_url", "language", "time_zone", "company_name", "city", "country",
)


def _later(a, b):
    return max(value for value in (a, b) if value is not None) if (a or b) else None


def contact_fold(*, kept: Contact, gone: Contact) -> dict:
    """Fold `gone` into `kept`: empty fields filled from `gone`, tags united, custom fields merged
    (`kept`'s values win), notes joined, the stricter opt-out and block, the later activity times;
    `gone`'s list memberships moved (deduped); `gone` soft-deleted with `merged_into`, and contacts
    merged into it before now point at `kept`. The caller holds both rows locked (in id order) and
    has checked that neither is deleted. Returns what changed on `kept`, for the audit entry."""
    changed = {}
    for field in FILLABLE_FIELDS:
        if not getattr(kept, field) and getattr(gone, field):
            setattr(kept, field, getattr(gone, field))
            changed[field] = "filled"
    if kept.lead_status == Contact.LeadStatus.NEW and gone.lead_status != Contact.LeadStatus.NEW:
        kept.lead_status = gone.lead_status
        changed["lead_status"] = "filled"
    tags = list(kept.tags) + [tag for tag in gone.tags if tag not in kept.tags]
    if tags != kept.tags:
        kept.tags, changed["tags"] = tags, "united"
    custom_fields = {**gone.custom_fields, **kept.custom_fields}
    if custom_fields != kept.custom_fields:
        kept.custom_fields, changed["custom_fields"] = custom_fields, "merged"
    if gone.notes and gone.notes not in kept.notes:
        kept.notes = f"{kept.notes}\n\n{gone.notes}" if kept.notes else gone.notes
        changed["notes"] = "joined"
    if gone.opted_out and not kept.opted_out:
        kept.opted_out, kept.opted_out_at = True, gone.opted_out_at or timezone.now()
    kept.blocked = kept.blocked or gone.blocked
    kept.lead_score = max(kept.lead_score, gone.lead_score)
    kept.last_inbound_at = _later(kept.last_inbound_at, gone.last_inbound_at)
    kept.last_contact_at = _later(kept.last_contact_at, gone.last_contact_at)
    kept.save()

    table = connection.ops.quote_name(ContactListMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (contact_list_id, contact_id, added_at) "
            f"SELECT contact_list_id, %s, added_at FROM {table} WHERE contact_id = %s "
            "ON CONFLICT (contact_list_id, contact_id) DO NOTHING",
            [kept.pk, gone.pk],
        )
        changed["lists_added"] = cursor.rowcount
    ContactListMember.objects.filter(contact=gone).delete()

    Contact.all_objects.filter(merged_into=gone).update(merged_into=kept)
    gone.merged_into, gone.deleted_at = kept, timezone.now()
    gone.save(update_fields=["merged_into", "deleted_at", "updated_at"])
    fields = sorted(name for name in changed if name != "lists_added")
    publish(CONTACT_UPDATED, {"contact_id": kept.pk, "changed": fields})
    publish(CONTACT_DELETED, {"contact_id": gone.pk})
    return changed
