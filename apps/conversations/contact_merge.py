"""Merging two contacts: the other's conversations (with their notes), lists, tags and missing
fields move to the kept contact, and the other is soft-deleted pointing at it (SPEC §5)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.contacts.merging import contact_fold
from apps.contacts.models import Contact
from apps.conversations import events
from apps.conversations.models import Conversation, TimelineEvent
from conversa.errors import NotFound, ValidationFailed
from conversa.events import publish

# The close reason of a conversation that had to end because the kept contact already had one in
# progress in the same inbox (one active conversation per contact and inbox).
CLOSED_BY_MERGE = "merged"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def check_contact_merge(*, actor: Actor | None) -> None:
    """Merges are for supervisors and admins (keys: `contacts:write`); None: the system."""
    if actor is not None:
        permissions.check(actor, "contacts.merge")


def contact_merge(*, actor: Actor | None, contact_id: int, other_id: int, request=None) -> Contact:
    """Fold contact `other_id` into `contact_id` and return the kept contact.

    Both rows are locked in id order, so two merges of the same pair (either way round) cannot
    deadlock and the second finds the other already merged (422). 404 if `contact_id` is no
    contact (or deleted), 422 naming `other_id` if it is the same contact, no contact, or deleted
    or erased. Conversations move with their notes and timeline; where both contacts have one in
    progress in the same inbox, the other's is closed first (reason "merged"). Audited.
    """
    check_contact_merge(actor=actor)
    if contact_id == other_id:
        raise _invalid("other_id", _("A contact cannot be merged into itself."))
    with transaction.atomic():
        rows = {c.pk: c for c in Contact.all_objects.select_for_update().filter(
            pk__in=[contact_id, other_id]).order_by("pk")}
        kept, gone = rows.get(contact_id), rows.get(other_id)
        if kept is None or kept.deleted_at is not None:
            raise NotFound(_("Contact not found."))
        if gone is None:
            raise _invalid("other_id", _("No such contact."))
        if gone.deleted_at is not None or gone.erased_at is not None:
            raise _invalid("other_id", _("This contact was deleted, merged or erased."))

        closed = _close_clashing(kept, gone, actor)
        moving = list(Conversation.objects.filter(contact=gone).values_list("pk", flat=True))
        Conversation.objects.filter(pk__in=moving).update(contact=kept, updated_at=timezone.now())
        TimelineEvent.objects.bulk_create([
            TimelineEvent(conversation_id=pk, actor=permissions.acting_user(actor), kind="contact_merged",
                          data={"from_contact_id": gone.pk, "to_contact_id": kept.pk})
            for pk in moving
        ])
        changed = contact_fold(kept=kept, gone=gone)
        audit_record(
            action="contact.merged", entity_type="contact", entity_id=kept.pk, actor=actor, request=request,
            changes={"merged_contact_id": gone.pk, "conversation_ids": moving,
                     "closed_conversation_ids": closed, "fields": changed},
        )
        for pk in moving:
            publish(events.CONVERSATION_UPDATED, {"conversation_id": pk})
    return kept


def _close_clashing(kept: Contact, gone: Contact, actor: Actor | None) -> list[int]:
    """Close the other's conversations in progress in inboxes where the kept contact has one too."""
    busy_inboxes = Conversation.objects.filter(
        contact=kept, status__in=Conversation.ACTIVE_STATUSES,
    ).values_list("inbox_id", flat=True)
    clashing = list(Conversation.objects.select_for_update().filter(
        contact=gone, status__in=Conversation.ACTIVE_STATUSES, inbox_id__in=list(busy_inboxes),
    ))
    now = timezone.now()
    for conversation in clashing:
        previous = conversation.status
        conversation.status, conversation.closed_at = Conversation.Status.CLOSED, now
        conversation.close_reason, conversation.snoozed_until = CLOSED_BY_MERGE, None
        conversation.save()
        TimelineEvent.objects.create(
            conversation=conversation, actor=permissions.acting_user(actor), kind="status_changed",
            data={"from": previous, "to": Conversation.Status.CLOSED},
        )
        publish(events.CONVERSATION_STATUS_CHANGED,
                {"conversation_id": conversation.pk, "from": previous, "to": Conversation.Status.CLOSED})
    return [conversation.pk for conversation in clashing]
