"""`/api/v1/conversations`: the inbox, messages, notes, actions and scheduled messages."""

import datetime as dt
import json
from decimal import Decimal
from typing import Literal

from django.db.models import DateTimeField
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.responses import NinjaJSONEncoder
from pydantic import Field

from apps.accounts.models import User
from apps.conversations import outbound, selectors, services, starting
from apps.conversations.models import Conversation, Note, ScheduledMessage, TimelineEvent
from apps.conversations.preview import preview_line
from apps.media.events import media_data
from apps.teams.models import Team
from conversa.errors import ValidationFailed
from ninja_api.auth import current_user
from ninja_api.pagination import PageParams, PreparedPages, page_of
from ninja_api.sql_json import JSONTimestamp

router = Router(tags=["conversations"])



class ContactBrief(Schema):
    id: int
    name: str
    phone: str


class ConversationOut(Schema):
    id: int
    status: str
    priority: str
    labels: list[str]
    subject: str
    inbox_id: int
    assignee_id: int | None
    team_id: int | None
    first_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    sla_breached: bool
    contact: ContactBrief
    unread_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    assigned_at: dt.datetime | None
    first_response_at: dt.datetime | None
    last_message_at: dt.datetime | None
    last_message_preview: str = Field(
        description="The last message on one line, or its kind for a file (\"📷 Photo\"), in the "
                    "request's language."
    )
    last_inbound_at: dt.datetime | None
    snoozed_until: dt.datetime | None
    closed_at: dt.datetime | None
    close_reason: str
    outcome: str
    outcome_value: Decimal | None
    csat_rating: int | None
    csat_comment: str
    csat_requested_at: dt.datetime | None
    csat_answered_at: dt.datetime | None
    within_service_window: bool

    @staticmethod
    def resolve_within_service_window(conversation):
        return outbound.within_service_window(conversation)

    @staticmethod
    def resolve_last_message_preview(conversation):
        return preview_line(conversation.last_message_preview)


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None


class MessageOut(Schema):
    id: int
    conversation_id: int
    direction: str
    sender_type: str
    sender_user_id: int | None
    kind: str
    text: str
    template_name: str
    template_variables: list[str]
    media_mime: str
    reply_to_id: int | None
    media: dict | None
    provider_message_id: str
    status: str
    error_code: str
    error_message: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    read_at: dt.datetime | None


    @staticmethod
    def resolve_media(message):
        return media_data(message.media) if message.media_id else None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class TemplateIn(Schema):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field("", max_length=15)
    variables: list[str] = Field(default_factory=list, max_length=20)


class MessageIn(Schema):
    text: str | None = Field(None, max_length=100_000)
    template: TemplateIn | None = None
    reply_to: int | None = None
    media_id: int | None = None


class NoteIn(Schema):
    text: str = Field(min_length=1, max_length=4096)


class NoteOut(Schema):
    id: int
    author_id: int | None
    text: str
    created_at: dt.datetime


class NotePage(Schema):
    items: list[NoteOut]
    next_cursor: str | None


class TimelineOut(Schema):
    id: int
    actor_id: int | None
    kind: str
    data: dict
    created_at: dt.datetime


class TimelinePage(Schema):
    items: list[TimelineOut]
    next_cursor: str | None


class AssignIn(Schema):
    assignee_id: int


class TransferIn(Schema):
    agent_id: int | None = Field(None, description="Give it to this agent…")
    team_id: int | None = Field(None, description="…or put it in this team's queue (one of the two).")
    reason: str = Field("", max_length=500)


class StatusIn(Schema):
    status: str


class PriorityIn(Schema):
    priority: Literal["low", "normal", "high", "urgent"]


class LabelsIn(Schema):
    add: list[str] = Field(default_factory=list, max_length=20)
    remove: list[str] = Field(default_factory=list, max_length=20)


class CloseIn(Schema):
    reason: str = Field("", max_length=200)
    outcome: str = Field("", max_length=50)
    outcome_value: Decimal | None = Field(None, max_digits=12, decimal_places=2)


class SnoozeIn(Schema):
    until: dt.datetime | None


class ScheduledIn(Schema):
    text: str = Field(min_length=1, max_length=4096)
    send_at: dt.datetime


class ScheduledOut(Schema):
    id: int
    text: str
    send_at: dt.datetime
    status: str
    message_id: int | None
    error: str


class ScheduledPage(Schema):
    items: list[ScheduledOut]
    next_cursor: str | None


def _conversation(request, conversation_id: int) -> Conversation:
    return selectors.conversation_get_for(request.auth, conversation_id)


def _assignee(assignee_id: int) -> User:
    return get_object_or_404(User, pk=assignee_id, is_active=True)


class ConversationStartIn(Schema):
    inbox_id: int
    contact_id: int | None = Field(None, description="Write to this contact…")
    phone: str | None = Field(
        None, max_length=32, description="…or to this phone (a new contact if unknown)."
    )
    name: str = Field("", max_length=200, description="The new contact's name, with `phone`.")
    template: TemplateIn


class ConversationFilters(Schema):
    status: str | None = Field(None, description="One status or several, comma-separated.")
    assignee: str | None = Field(None, description="`me`, `none` or a user id.")
    inbox: int | None = None
    team: str | None = Field(None, description="A team id, `mine` (the caller's teams) or `none`.")
    label: str | None = None
    priority: str | None = None
    unread: bool | None = None
    q: str | None = Field(
        None, description="Contact name (accents ignored), email or phone, subject or message text."
    )
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@router.get("", response=ConversationPage)
def list_conversations(request, page: Query[PageParams], filters: Query[ConversationFilters]):
    conversations = selectors.conversation_list(request.auth, **filters.dict())
    rows, next_cursor = _LIST_PAGES.page(conversations, page)
    now = timezone.now()
    listed = {"items": [_list_item(row, now) for row in rows], "next_cursor": next_cursor}
    # Every agent reloads this list all day: its rows skip the schema's per-attribute validation
    # (a third of the request's CPU) and go out through the API's own JSON encoder.
    return HttpResponse(json.dumps(listed, cls=NinjaJSONEncoder), content_type="application/json")


# The list reads plain columns (no model instances) and computes what the schema's resolvers
# compute, from the same helpers; `test_list_items_match_the_schema` keeps the two equal.
_LIST_PLAIN = tuple(
    name for name in ConversationOut.model_fields
    if name not in {"contact", "last_message_preview", "within_service_window"}
)
# Timestamps come as the JSON text they become (`JSONTimestamp`); the cursor's `last_message_at`
# also comes as itself, last.
_LIST_PAGES = PreparedPages(
    columns=(
        *(JSONTimestamp(name) if isinstance(Conversation._meta.get_field(name), DateTimeField) else name
          for name in _LIST_PLAIN),
        "last_message_preview", "contact__id", "contact__name", "contact__phone", "contact__last_inbound_at",
        "last_message_at",
    ),
    ordering=("-last_message_at", "-id"),
)
_PREVIEW = len(_LIST_PLAIN)


def _list_item(row: tuple, now: dt.datetime) -> dict:
    """`ConversationOut` of one row of `_LIST_PAGES`, as a dict."""
    item = dict(zip(_LIST_PLAIN, row, strict=False))
    preview, contact_id, name, phone, last_inbound_at, _last_message_at = row[_PREVIEW:]
    item["contact"] = {"id": contact_id, "name": name, "phone": phone}
    item["last_message_preview"] = preview_line(preview)
    item["within_service_window"] = outbound.service_window_open(last_inbound_at, now)
    return item


@router.post("", response={201: ConversationOut})
def start_conversation(request, payload: ConversationStartIn):
    """Start a conversation with an approved template (the only message allowed outside the
    customer's 24-hour window); 409 with the conversation's id when one is already in progress."""
    conversation = starting.conversation_start(
        actor=request.auth, inbox_id=payload.inbox_id, contact_id=payload.contact_id,
        phone=payload.phone, name=payload.name, template=payload.template.dict(),
    )
    return Status(201, conversation)


@router.get("/{int:conversation_id}", response=ConversationOut)
def get_conversation(request, conversation_id: int):
    return _conversation(request, conversation_id)


@router.get("/{int:conversation_id}/messages", response=MessagePage)
def list_messages(request, conversation_id: int, page: Query[PageParams]):
    conversation = _conversation(request, conversation_id)
    return page_of(selectors.messages_of(conversation), page, ordering=("-created_at", "-id"))


@router.post("/{int:conversation_id}/messages", response={201: MessageOut})
def send_message(request, conversation_id: int, payload: MessageIn):
    conversation = _conversation(request, conversation_id)
    message = outbound.message_send(
        conversation=conversation,
        author=request.auth,
        text=payload.text,
        template=payload.template.dict() if payload.template else None,
        reply_to_id=payload.reply_to,
        media_id=payload.media_id,
    )
    return Status(201, message)


@router.get("/{int:conversation_id}/notes", response=NotePage)
def list_notes(request, conversation_id: int, page: Query[PageParams]):
    conversation = _conversation(request, conversation_id)
    return page_of(Note.objects.filter(conversation=conversation), page, ordering=("created_at", "id"))


@router.post("/{int:conversation_id}/notes", response={201: NoteOut})
def add_note(request, conversation_id: int, payload: NoteIn):
    conversation = _conversation(request, conversation_id)
    return Status(
        201, services.note_add(conversation=conversation, author=current_user(request), text=payload.text)
    )


@router.get("/{int:conversation_id}/timeline", response=TimelinePage)
def timeline(request, conversation_id: int, page: Query[PageParams]):
    conversation = _conversation(request, conversation_id)
    events = TimelineEvent.objects.filter(conversation=conversation)
    return page_of(events, page, ordering=("created_at", "id"))


@router.post("/{int:conversation_id}/assign", response=ConversationOut)
def assign(request, conversation_id: int, payload: AssignIn):
    conversation = _conversation(request, conversation_id)
    return services.conversation_assign(
        conversation=conversation, assignee=_assignee(payload.assignee_id), actor=request.auth
    )


@router.post("/{int:conversation_id}/transfer", response=ConversationOut)
def transfer(request, conversation_id: int, payload: TransferIn):
    conversation = _conversation(request, conversation_id)
    if (payload.agent_id is None) == (payload.team_id is None):
        raise ValidationFailed(
            details=[{"field": "agent_id", "message": _("Give either agent_id or team_id.")}]
        )
    return services.conversation_transfer(
        conversation=conversation,
        agent=_assignee(payload.agent_id) if payload.agent_id is not None else None,
        team=get_object_or_404(Team, pk=payload.team_id) if payload.team_id is not None else None,
        actor=request.auth,
        reason=payload.reason,
    )


@router.post("/{int:conversation_id}/unassign", response=ConversationOut)
def unassign(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    return services.conversation_unassign(conversation=conversation, actor=request.auth)


@router.post("/{int:conversation_id}/status", response=ConversationOut)
def set_status(request, conversation_id: int, payload: StatusIn):
    conversation = _conversation(request, conversation_id)
    return services.conversation_set_status(
        conversation=conversation, status=payload.status, actor=request.auth
    )


@router.post("/{int:conversation_id}/priority", response=ConversationOut)
def set_priority(request, conversation_id: int, payload: PriorityIn):
    conversation = _conversation(request, conversation_id)
    return services.conversation_set_priority(
        conversation=conversation, priority=payload.priority, actor=request.auth
    )


@router.post("/{int:conversation_id}/labels", response=ConversationOut)
def set_labels(request, conversation_id: int, payload: LabelsIn):
    conversation = _conversation(request, conversation_id)
    for label in payload.add:
        if not 1 <= len(label) <= 50:
            raise ValidationFailed(
                details=[{"field": "add", "message": str(_("Labels are 1 to 50 characters."))}]
            )
    return services.conversation_set_labels(
        conversation=conversation, add=payload.add, remove=payload.remove, actor=request.auth
    )


@router.post("/{int:conversation_id}/read", response=ConversationOut)
def mark_read(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    return services.conversation_mark_read(conversation=conversation, user=current_user(request))


@router.post("/{int:conversation_id}/snooze", response=ConversationOut)
def snooze(request, conversation_id: int, payload: SnoozeIn):
    conversation = _conversation(request, conversation_id)
    return services.conversation_snooze(conversation=conversation, until=payload.until, actor=request.auth)


@router.post("/{int:conversation_id}/close", response=ConversationOut)
def close(request, conversation_id: int, payload: CloseIn):
    conversation = _conversation(request, conversation_id)
    return services.conversation_close(
        conversation=conversation,
        actor=request.auth,
        reason=payload.reason,
        outcome=payload.outcome,
        outcome_value=payload.outcome_value,
    )


@router.post("/{int:conversation_id}/reopen", response=ConversationOut)
def reopen(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    return services.conversation_reopen(conversation=conversation, actor=request.auth)


@router.get("/{int:conversation_id}/scheduled-messages", response=ScheduledPage)
def list_scheduled(request, conversation_id: int, page: Query[PageParams]):
    conversation = _conversation(request, conversation_id)
    scheduled = ScheduledMessage.objects.filter(conversation=conversation)
    return page_of(scheduled, page, ordering=("send_at", "id"))


@router.post("/{int:conversation_id}/scheduled-messages", response={201: ScheduledOut})
def schedule(request, conversation_id: int, payload: ScheduledIn):
    conversation = _conversation(request, conversation_id)
    return Status(
        201,
        services.scheduled_message_create(
            conversation=conversation,
            author=current_user(request),
            text=payload.text,
            send_at=payload.send_at,
        ),
    )


@router.delete("/{int:conversation_id}/scheduled-messages/{int:scheduled_id}", response=ScheduledOut)
def cancel_scheduled(request, conversation_id: int, scheduled_id: int):
    conversation = _conversation(request, conversation_id)
    scheduled = get_object_or_404(ScheduledMessage, pk=scheduled_id, conversation=conversation)
    return services.scheduled_message_cancel(scheduled=scheduled, actor=request.auth)
