"""One conversation: its timeline, the composer and the agent's actions on it."""

import datetime as dt

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import User
from apps.automation.selectors import macros_visible_to
from apps.contacts import services as contacts
from apps.conversations import outbound, selectors, services
from apps.conversations.models import Conversation, Message
from apps.inboxes.models import MessageTemplate
from apps.teams.models import Team
from apps.web.auth import agent_required
from apps.web.inbox_query import InboxFilters
from apps.web.timeline import Item, TimelinePage, timeline_page, timeline_since
from apps.web.views.inbox import inbox_context
from conversa.errors import DomainError, ValidationFailed


def _conversation(request, conversation_id: int) -> Conversation:
    """The conversation if this user may see it; 404 otherwise (also for other companies' ids)."""
    return selectors.conversation_get_for(request.user, conversation_id)


def _error_text(exc: DomainError) -> str:
    details = "; ".join(str(d.get("message", "")) for d in exc.details if isinstance(d, dict))
    return f"{exc.message} {details}".strip() if details and details not in exc.message else exc.message


def _flash_error(exc: DomainError, target: str = "#flash") -> HttpResponse:
    """A refused action shows its reason where the user looks, and changes nothing."""
    response = HttpResponse(f'<p class="flash error" role="alert">{escape(_error_text(exc))}</p>')
    response["HX-Retarget"] = target
    response["HX-Reswap"] = "innerHTML"
    return response


def head_context(request, conversation: Conversation) -> dict:
    """What the conversation's header (who, status, actions, labels) shows."""
    user = request.user
    return {
        "conversation": conversation,
        "contact": conversation.contact,
        "agents": User.objects.filter(is_active=True).only("name", "email").order_by("name", "email"),
        # Not "statuses": the full page also has the inbox filter's choices under that name.
        "status_moves": [(value, label) for value, label in Conversation.Status.choices
                         if conversation.can_move_to(value)],
        "priorities": Conversation.Priority.choices,
        "may_reassign": services.may_hand_over(actor=user, conversation=conversation),
        "teams": Team.objects.only("name").order_by("name", "id"),
        "macros": macros_visible_to(user).only("name"),
    }


def conversation_context(request, conversation: Conversation) -> dict:
    return {
        **head_context(request, conversation),
        "page": timeline_page(conversation),
        "window_open": outbound.within_service_window(conversation),
        "templates": MessageTemplate.objects.filter(
            inbox_id=conversation.inbox_id, status=MessageTemplate.Status.APPROVED
        ),
        "quick_replies": selectors.quick_replies_visible_to(request.user),
        # Whom a note may @mention (`conversations.mentions`); the composer filters as one types.
        "mention_users": User.objects.filter(is_active=True).exclude(pk=request.user.pk)
        .only("name", "email").order_by("name", "email"),
        "previous": conversation.contact.conversations.exclude(pk=conversation.pk)
        .select_related("inbox").order_by("-created_at")[:10],
    }


@agent_required
@require_GET
def conversation_view(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    services.conversation_mark_read(conversation=conversation, user=request.user)
    conversation.refresh_from_db(fields=["unread_count"])
    context = conversation_context(request, conversation)
    if request.htmx and request.htmx.target == "conversation-pane":
        return render(request, "web/partials/conversation_pane.html", context)
    filters = InboxFilters.from_query(request.GET)
    return render(request, "web/inbox.html", {**inbox_context(request, filters), **context})


@agent_required
@require_GET
def head_view(request, conversation_id: int):
    """The header alone, for live updates: a change by someone else should not re-render the
    timeline. Viewing it counts as reading, as opening the conversation does."""
    conversation = _conversation(request, conversation_id)
    services.conversation_mark_read(conversation=conversation, user=request.user)
    return render(request, "web/partials/conversation_head.html", head_context(request, conversation))


@agent_required
@require_GET
def older_view(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    before = request.GET.get("before", "")
    page = timeline_page(conversation, before=int(before) if before.isdigit() else None)
    return render(request, "web/partials/timeline_items.html",
                  {"page": page, "conversation": conversation, "older": True})


@agent_required
@require_GET
def newer_view(request, conversation_id: int):
    """Notes and events added since the newest one the page shows (another agent's actions, live)."""
    conversation = _conversation(request, conversation_id)
    try:
        after = dt.datetime.fromtimestamp(float(request.GET.get("after", "")), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ValidationFailed(_("A timestamp is required.")) from None
    items = timeline_since(conversation, after)
    return render(request, "web/partials/timeline_items.html",
                  {"page": TimelinePage(items, None), "conversation": conversation, "bare": True})


@agent_required
@require_GET
def item_view(request, conversation_id: int, kind: str, item_id: int):
    """One timeline item (for live updates: a new message, a tick that moved, a scan result)."""
    conversation = _conversation(request, conversation_id)
    if kind == "m":
        obj = selectors.messages_of(conversation).select_related("sender_user").filter(pk=item_id).first()
        item = Item("message", obj) if obj else None
    else:
        obj = conversation.notes.select_related("author").filter(pk=item_id).first()
        item = Item("note", obj) if obj else None
    if item is None:
        return HttpResponse("")
    return _rendered_item(request, conversation, item)


def _rendered_item(request, conversation, item: Item) -> HttpResponse:
    return render(request, "web/partials/timeline_item.html", {"item": item, "conversation": conversation})


@agent_required
@require_POST
def send_view(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    text = request.POST.get("text", "")
    reply_to = request.POST.get("reply_to", "")
    media_id = request.POST.get("media_id", "")
    try:
        if request.POST.get("mode") == "note":
            note = services.note_add(conversation=conversation, author=request.user, text=text)
            return _rendered_item(request, conversation, Item("note", note))
        message = outbound.message_send(
            conversation=conversation, author=request.user,
            text=text if text.strip() else None,
            reply_to_id=int(reply_to) if reply_to.isdigit() else None,
            media_id=int(media_id) if media_id.isdigit() else None,
        )
    except DomainError as exc:
        return _flash_error(exc, "#composer-error")
    message = Message.objects.select_related("sender_user", "reply_to", "media").get(pk=message.pk)
    return _rendered_item(request, conversation, Item("message", message))


@agent_required
@require_POST
def send_template_view(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    template = MessageTemplate.objects.filter(
        pk=request.POST.get("template_id") or 0, inbox_id=conversation.inbox_id
    ).first()
    if template is None:
        return _flash_error(ValidationFailed(_("Choose a template.")), "#composer-error")
    variables = [request.POST.get(f"var{index}", "") for index in range(1, template.variable_count + 1)]
    try:
        message = outbound.message_send(
            conversation=conversation, author=request.user,
            template={"name": template.name, "language": template.language, "variables": variables},
        )
    except DomainError as exc:
        return _flash_error(exc, "#composer-error")
    message = Message.objects.select_related("sender_user").get(pk=message.pk)
    return _rendered_item(request, conversation, Item("message", message))


def _user(value: str) -> User:
    user = User.objects.filter(pk=value, is_active=True).first() if str(value).isdigit() else None
    if user is None:
        raise ValidationFailed(_("Choose an active user."))
    return user


def _transfer(conversation: Conversation, user: User, target: str, reason: str) -> None:
    """`target` is "agent:ID" or "team:ID", as the transfer menu offers them."""
    kind, _sep, pk = target.partition(":")
    if kind == "agent":
        services.conversation_transfer(conversation=conversation, actor=user, agent=_user(pk), reason=reason)
        return
    team = Team.objects.filter(pk=pk).first() if kind == "team" and pk.isdigit() else None
    if team is None:
        raise ValidationFailed(_("Choose an agent or a team."))
    services.conversation_transfer(conversation=conversation, actor=user, team=team, reason=reason)


def _snooze_until(value: str) -> dt.datetime:
    until = parse_datetime(value) if value else None
    if until is None:
        raise ValidationFailed(_("Choose when the snooze ends."))
    return timezone.make_aware(until) if timezone.is_naive(until) else until


def _apply(request, conversation: Conversation, action: str) -> None:
    user, data = request.user, request.POST
    if action == "assign_me":
        services.conversation_assign(conversation=conversation, assignee=user, actor=user)
    elif action == "assign":
        assignee = _user(data.get("assignee_id", ""))
        services.conversation_assign(conversation=conversation, assignee=assignee, actor=user,
                                     reason=data.get("reason", "")[:200])
    elif action == "transfer":
        _transfer(conversation, user, data.get("target", ""), data.get("reason", "")[:200])
    elif action == "unassign":
        services.conversation_unassign(conversation=conversation, actor=user)
    elif action == "status":
        services.conversation_set_status(conversation=conversation, status=data.get("status", ""), actor=user)
    elif action == "priority":
        services.conversation_set_priority(conversation=conversation, priority=data.get("priority", ""),
                                           actor=user)
    elif action == "add_label":
        label = data.get("label", "").strip()[:50]
        if not label:
            raise ValidationFailed(_("Type a label."))
        services.conversation_set_labels(conversation=conversation, add=[label], actor=user)
    elif action == "remove_label":
        services.conversation_set_labels(
            conversation=conversation, remove=[data.get("label", "")], actor=user
        )
    elif action == "snooze":
        services.conversation_snooze(conversation=conversation, until=_snooze_until(data.get("until", "")),
                                     actor=user)
    elif action == "close":
        services.conversation_close(
            conversation=conversation, actor=user,
            reason=data.get("reason", "")[:200], outcome=data.get("outcome", "")[:50],
        )
    elif action == "reopen":
        services.conversation_reopen(conversation=conversation, actor=user)
    else:
        raise ValidationFailed(_("Unknown action."))


@agent_required
@require_POST
def action_view(request, conversation_id: int, action: str):
    conversation = _conversation(request, conversation_id)
    try:
        _apply(request, conversation, action)
    except DomainError as exc:
        return _flash_error(exc)
    conversation = Conversation.objects.select_related("contact", "inbox", "assignee").get(pk=conversation.pk)
    if not selectors.may_see_conversation(request.user, conversation):
        # Handed to someone else: this agent's view of it ends here.
        response = HttpResponse("")
        response["HX-Redirect"] = "/app/"
        return response
    return render(request, "web/partials/conversation_pane.html", conversation_context(request, conversation))


@agent_required
@require_POST
def contact_view(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    contact = conversation.contact
    data = request.POST
    custom = {key[len("cf_"):]: value for key, value in data.items() if key.startswith("cf_")}
    fields = {"name": data.get("name", ""), "email": data.get("email", "")}
    if custom:
        fields["custom_fields"] = custom
    tags = [tag.strip() for tag in data.get("tags", "").split(",") if tag.strip()]
    try:
        contacts.check_contact_write(actor=request.user)
        with transaction.atomic():  # all of the form or none of it
            contact = contacts.contact_update(contact=contact, actor=request.user, **fields)
            removed = [tag for tag in contact.tags if tag not in tags]
            if removed:
                contact = contacts.contact_remove_tags(contact=contact, tags=removed, actor=request.user)
            if tags:
                contact = contacts.contact_add_tags(contact=contact, tags=tags, actor=request.user)
    except DomainError as exc:
        return _flash_error(exc, "#contact-error")
    conversation.contact = contact
    return render(request, "web/partials/contact_panel.html",
                  {**conversation_context(request, conversation), "saved": True})
