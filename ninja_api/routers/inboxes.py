"""`/api/v1/inboxes`: connected numbers, their templates and the sandbox outbox."""

import datetime as dt
from typing import Literal

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.conversations.selectors import outbound_messages_visible_to
from apps.inboxes import services
from apps.inboxes.models import Inbox, MessageTemplate
from apps.inboxes.selectors import inbox_get_for, inboxes_visible_to, may_see_connection_secrets, webhook_url
from conversa.errors import NotFound
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["inboxes"])



class InboxOut(Schema):
    id: int
    name: str
    provider: str
    rate_limit_per_second: int
    daily_limit: int | None
    reopen_window_hours: int
    greeting_message: str
    away_message: str
    default_team_id: int | None
    auto_close_after_hours: int | None
    auto_close_message: str
    csat_enabled: bool
    csat_mode: str
    csat_message: str
    health: str
    last_error: str
    is_active: bool
    created_at: dt.datetime


class InboxAdminOut(InboxOut):
    """What admins see: how to connect the provider. Other credentials are never returned."""

    webhook_url: str
    verify_token: str | None
    sandbox_token: str | None

    @staticmethod
    def resolve_webhook_url(inbox, context):
        return webhook_url(inbox, context["request"])

    @staticmethod
    def resolve_verify_token(inbox):
        return (
            inbox.credentials.get("verify_token") if inbox.provider == Inbox.Provider.WHATSAPP_CLOUD else None
        )

    @staticmethod
    def resolve_sandbox_token(inbox):
        return inbox.sandbox_token if inbox.provider == Inbox.Provider.SANDBOX else None


class InboxIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    provider: Literal["whatsapp_cloud", "twilio", "sandbox"]
    credentials: dict = Field(default_factory=dict)
    rate_limit_per_second: int | None = Field(None, ge=1, le=1000)
    daily_limit: int | None = Field(None, ge=1)
    reopen_window_hours: int = Field(24, ge=0, le=24 * 30)
    greeting_message: str = Field("", max_length=4096)
    away_message: str = Field("", max_length=4096)
    default_team_id: int | None = None
    auto_close_after_hours: int | None = Field(None, ge=1, le=24 * 90)
    auto_close_message: str = Field("", max_length=4096)
    csat_enabled: bool = False
    csat_mode: Literal["reply", "link"] = "reply"
    # Empty: the default request in the company's language (link mode appends the page's link).
    csat_message: str = Field("", max_length=1000)


class InboxPatch(Schema):
    # Omitted fields stay as they are; null is refused except where it means "none".
    name: str = Field(None, min_length=1, max_length=100)
    credentials: dict = None
    rate_limit_per_second: int = Field(None, ge=1, le=1000)
    daily_limit: int | None = Field(None, ge=1)
    reopen_window_hours: int = Field(None, ge=0, le=24 * 30)
    greeting_message: str = Field(None, max_length=4096)
    away_message: str = Field(None, max_length=4096)
    is_active: bool = None
    # null: no default team / never auto-close.
    default_team_id: int | None = None
    auto_close_after_hours: int | None = Field(None, ge=1, le=24 * 90)
    auto_close_message: str = Field(None, max_length=4096)
    csat_enabled: bool = None
    csat_mode: Literal["reply", "link"] = None
    csat_message: str = Field(None, max_length=1000)


class TemplateIn(Schema):
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field("en", min_length=2, max_length=15)
    body: str = Field(min_length=1, max_length=1024)
    category: Literal["marketing", "utility", "authentication"] = "utility"
    status: Literal["approved", "pending", "rejected"] = "approved"


class TemplateOut(Schema):
    id: int
    name: str
    language: str
    body: str
    category: str
    status: str
    variable_count: int


class OutboxItem(Schema):
    id: int
    conversation_id: int
    to: str
    kind: str
    text: str
    status: str
    created_at: dt.datetime

    @staticmethod
    def resolve_to(message):
        return message.conversation.contact.phone


class OutboxPage(Schema):
    items: list[OutboxItem]
    next_cursor: str | None


class InboxPage(Schema):
    items: list[InboxOut]
    next_cursor: str | None


class TemplatePage(Schema):
    items: list[TemplateOut]
    next_cursor: str | None


@router.get("", response=InboxPage)
def list_inboxes(request, page: Query[PageParams]):
    return page_of(inboxes_visible_to(request.auth), page, ordering=("id",))


@router.post("", response={201: InboxAdminOut})
def create_inbox(request, payload: InboxIn):
    return Status(201, services.inbox_create(actor=request.auth, **payload.dict()))


@router.get("/{int:inbox_id}", response={200: InboxAdminOut | InboxOut})
def get_inbox(request, inbox_id: int):
    inbox = inbox_get_for(request.auth, inbox_id)
    schema = InboxAdminOut if may_see_connection_secrets(request.auth) else InboxOut
    # Rendered here: ninja would validate a built schema against the union again, and the admin
    # resolvers cannot run on it (admins would silently get the plain shape).
    return JsonResponse(schema.from_orm(inbox, context={"request": request}).model_dump(mode="json"))


@router.patch("/{int:inbox_id}", response=InboxAdminOut)
def update_inbox(request, inbox_id: int, payload: InboxPatch):
    inbox = inbox_get_for(request.auth, inbox_id)
    return services.inbox_update(actor=request.auth, inbox=inbox, **payload.dict(exclude_unset=True))


@router.get("/{int:inbox_id}/templates", response=TemplatePage)
def list_templates(request, inbox_id: int, page: Query[PageParams]):
    inbox = inbox_get_for(request.auth, inbox_id)
    return page_of(inbox.templates.all(), page, ordering=("id",))


@router.post("/{int:inbox_id}/templates", response={201: TemplateOut})
def create_template(request, inbox_id: int, payload: TemplateIn):
    inbox = inbox_get_for(request.auth, inbox_id)
    return Status(201, services.template_create(actor=request.auth, inbox=inbox, **payload.dict()))


@router.delete("/{int:inbox_id}/templates/{int:template_id}", response={204: None})
def delete_template(request, inbox_id: int, template_id: int):
    inbox = inbox_get_for(request.auth, inbox_id)
    template = get_object_or_404(MessageTemplate, pk=template_id, inbox=inbox)
    services.template_delete(actor=request.auth, template=template)
    return Status(204, None)


@router.get("/{int:inbox_id}/sandbox/outbox", response=OutboxPage)
def sandbox_outbox(request, inbox_id: int, page: Query[PageParams]):
    """What the company sent to its sandbox customers in conversations the caller may see, newest first."""
    inbox = inbox_get_for(request.auth, inbox_id)
    if inbox.provider != Inbox.Provider.SANDBOX:
        raise NotFound()
    messages = outbound_messages_visible_to(request.auth, inbox_id=inbox.pk).select_related(
        "conversation__contact",
    )
    return page_of(messages, page, ordering=("-id",))
