"""GDPR erasure of a contact (SPEC §5): its personal data and files go, its conversations stay,
anonymised, so reports keep counting them. Admins only, never with an API key."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.services import audit_forget_values, audit_record
from apps.contacts.erasure import contact_blank
from apps.contacts.events import CONTACT_ERASED
from apps.contacts.models import Contact
from apps.conversations import events
from apps.conversations.models import Conversation, Message, Note, ScheduledMessage, TimelineEvent
from apps.inboxes.services import webhook_events_forget_phone
from apps.media.services import media_erase
from apps.notifications.services import notifications_forget_conversations
from conversa.errors import NotFound
from conversa.events import publish

# What an erased message, note or scheduled message reads (stored; the same in every language).
ERASED_TEXT = "[erased]"


def check_contact_erase(*, actor: Actor | None) -> None:
    """Erasure cannot be undone: admins only, never an API key (None: the system)."""
    if actor is not None:
        permissions.check(actor, "contacts.erase")


def contact_erase(*, actor: Actor | None, contact_id: int, request=None) -> Contact:
    """Erase the contact and every contact merged into it; returns the erased contact.

    Blanked: the contacts' personal fields (name "Erased contact", a placeholder phone), tags,
    custom fields, notes and list memberships; the texts of their conversations' messages, notes
    and scheduled messages (ERASED_TEXT), template variables, file names and provider links,
    subjects, previews, CSAT comments, close reasons and bot variables; notifications about those
    conversations; stored provider webhooks carrying their phone numbers. Files received from them,
    or sent only to them, are deleted from storage after commit (rows kept as rejected, see
    `media_erase`). Kept: the conversations, their statuses, times and counts.

    Locks the contacts' rows. Idempotent: erasing an erased contact changes nothing and returns it.
    Works on deleted contacts too (a merged or deleted contact still holds personal data). 404 for
    an id that never was a contact of this company. The audit entry holds counts and ids only.
    """
    check_contact_erase(actor=actor)
    with transaction.atomic():
        contact = Contact.all_objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise NotFound(_("Contact not found."))
        if contact.erased_at is not None:
            return contact
        contacts = _with_merged(contact)
        phones = [c.phone for c in contacts]
        conversation_ids = list(
            Conversation.objects.filter(contact__in=contacts).values_list("pk", flat=True)
        )
        counts = _anonymise_conversations(conversation_ids)
        for erased in contacts:
            contact_blank(contact=erased)
        counts["webhook_events"] = sum(webhook_events_forget_phone(phone=phone) for phone in phones)
        counts["notifications"] = notifications_forget_conversations(conversation_ids=conversation_ids)
        # Before this erasure's own entry: its counts and ids are no personal data.
        contact_ids = [c.pk for c in contacts]
        counts["audit_entries"] = audit_forget_values(entity_type="contact", entity_ids=contact_ids)
        TimelineEvent.objects.bulk_create([
            TimelineEvent(conversation_id=pk, actor=permissions.acting_user(actor), kind="contact_erased")
            for pk in conversation_ids
        ])
        audit_record(
            action="contact.erased", entity_type="contact", entity_id=contact.pk, actor=actor,
            request=request,
            changes={"contact_ids": [c.pk for c in contacts], "conversation_ids": conversation_ids, **counts},
        )
        for pk in conversation_ids:
            publish(events.CONVERSATION_UPDATED, {"conversation_id": pk})
        publish(CONTACT_ERASED, {"contact_ids": contact_ids, "conversation_ids": conversation_ids})
    return contact


def _with_merged(contact: Contact) -> list[Contact]:
    """The contact and every contact ever merged into it (merges repoint older ones), locked."""
    merged = Contact.all_objects.select_for_update().filter(merged_into=contact, erased_at__isnull=True)
    return [contact, *merged.order_by("pk")]


def _anonymise_conversations(conversation_ids: list[int]) -> dict:
    messages = Message.objects.filter(conversation_id__in=conversation_ids)
    media_ids = set(messages.exclude(media__isnull=True).values_list("media_id", flat=True))
    # A file also attached to someone else's message (a brochure, a campaign's image) is not this
    # contact's: those messages keep it, only the link from this contact's messages goes.
    shared = set(
        Message.objects.filter(media_id__in=media_ids).exclude(conversation_id__in=conversation_ids)
        .values_list("media_id", flat=True)
    )
    erased_files = media_erase(media_ids=media_ids - shared)
    # Not sent yet: never send words of an erased contact (or to it).
    messages.filter(status=Message.Status.PENDING).update(
        status=Message.Status.FAILED, error_code="contact_erased", failed_at=timezone.now(),
    )
    message_count = messages.exclude(text="").update(text=ERASED_TEXT)
    messages.update(template_variables=[], media_ref="", media_filename="", error_message="")
    messages.filter(media_id__in=shared).update(media=None)
    notes = Note.objects.filter(conversation_id__in=conversation_ids).update(text=ERASED_TEXT)
    ScheduledMessage.objects.filter(conversation_id__in=conversation_ids).update(text=ERASED_TEXT)
    ScheduledMessage.objects.filter(
        conversation_id__in=conversation_ids, status=ScheduledMessage.Status.SCHEDULED,
    ).update(status=ScheduledMessage.Status.CANCELLED)
    Conversation.objects.filter(pk__in=conversation_ids).update(
        subject="", last_message_preview=ERASED_TEXT, csat_comment="", close_reason="", bot_context={},
    )
    return {"messages": message_count, "notes": notes, "media_files": erased_files}
