"""Conversations an agent starts: a template to a contact (or a new phone) on an inbox."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.contacts.models import Contact
from apps.contacts.phones import normalize_phone
from apps.contacts.services import contact_create
from apps.conversations import events
from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.outbound import message_send, template_for
from apps.conversations.selectors import may_see_conversation
from apps.inboxes.models import Inbox
from conversa.errors import Conflict, ValidationFailed
from conversa.events import publish


class ConversationInProgress(Conflict):
    default_message = gettext_lazy("This contact already has a conversation in progress on this inbox.")


def _in_progress(actor: Actor, conversation: Conversation) -> ConversationInProgress:
    """409 naming the conversation in progress, if the actor may see it (otherwise its id would
    tell an agent about another team's conversation)."""
    detail = {"field": "contact_id", "message": str(_("Already in progress."))}
    if may_see_conversation(actor, conversation):
        detail["conversation_id"] = conversation.pk
    return ConversationInProgress(details=[detail])


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _inbox(inbox_id: int | None) -> Inbox:
    inbox = Inbox.objects.filter(pk=inbox_id or 0, is_active=True).first() if inbox_id else None
    if inbox is None:
        raise _invalid("inbox_id", _("No such inbox."))
    return inbox


def _contact(*, actor: Actor, contact_id: int | None, phone: str | None, name: str) -> Contact:
    """The contact to write to, locked (as inbound messages lock it: the check for a conversation
    in progress and the creation cannot race an arriving message); created for a new phone."""
    if (contact_id is None) == (not phone):
        raise _invalid("contact_id", _("Give a contact or a phone number, not both."))
    if contact_id is not None:
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise _invalid("contact_id", _("No such contact."))
        return contact
    try:
        phone = normalize_phone(phone)
    except ValueError as exc:
        raise _invalid("phone", str(exc)) from exc
    contact = Contact.objects.select_for_update().filter(phone=phone).first()
    if contact is not None:
        return contact
    permissions.check(actor, "contacts.write")
    try:
        created = contact_create(phone=phone, name=name, actor=actor)
    except Conflict:  # created meanwhile by an inbound message or a colleague
        return Contact.objects.select_for_update().get(phone=phone)
    return Contact.objects.select_for_update().get(pk=created.pk)


def conversation_start(
    *,
    actor: Actor,
    inbox_id: int | None,
    template: dict | None,
    contact_id: int | None = None,
    phone: str | None = None,
    name: str = "",
) -> Conversation:
    """Start a conversation whose first message is an approved template (the only thing WhatsApp
    lets a business send outside the customer's 24-hour window), assigned to the agent who starts it
    (not to an API key) and in the inbox's default team.

    422 for bad input, 409 `conflict` naming the conversation in progress when the contact has one on
    this inbox; nothing is written when refused. Holds the contact's row lock, like an inbound
    message, so the two cannot open two conversations at once.
    """
    permissions.check(actor, "conversations.write")
    if not template or not template.get("name"):
        raise _invalid("template.name", _("Choose a template."))
    inbox = _inbox(inbox_id)
    template_for(inbox, template)  # 422 before anything is written
    if any(not str(value).strip() for value in template.get("variables") or []):
        raise _invalid("template.variables", _("Fill in every variable."))
    agent = actor if isinstance(actor, User) else None
    with transaction.atomic():
        contact = _contact(actor=actor, contact_id=contact_id, phone=phone, name=name)
        if contact.blocked:
            raise _invalid("contact_id", _("This contact is blocked."))
        active = Conversation.objects.filter(
            contact=contact, inbox=inbox, status__in=Conversation.ACTIVE_STATUSES
        ).first()
        if active is not None:
            raise _in_progress(actor, active)
        now = timezone.now()
        conversation = Conversation.objects.create(
            contact=contact, inbox=inbox, team_id=inbox.default_team_id,
            status=Conversation.Status.OPEN, assignee=agent, assigned_at=now if agent else None,
        )
        TimelineEvent.objects.create(conversation=conversation, actor=agent, kind="started",
                                     data={"assignee_id": agent.pk if agent else None})
        publish(events.CONVERSATION_CREATED, {"conversation_id": conversation.pk})
        message_send(conversation=conversation, author=actor, template=template)
    conversation.refresh_from_db()
    return conversation
