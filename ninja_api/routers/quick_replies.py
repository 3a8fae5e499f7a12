"""`/api/v1/quick-replies`: canned responses, company-wide (managers) or personal."""

import datetime as dt

from django.db.models import Q
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.conversations import selectors, services
from apps.conversations.models import QuickReply
from ninja_api.auth import current_user
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["quick replies"])


class QuickReplyIn(Schema):
    shortcut: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$")
    content: str = Field(min_length=1, max_length=4096)
    personal: bool = True


class QuickReplyOut(Schema):
    id: int
    shortcut: str
    content: str
    personal: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_personal(reply):
        return reply.owner_id is not None


class QuickReplyPage(Schema):
    items: list[QuickReplyOut]
    next_cursor: str | None


@router.get("", response=QuickReplyPage)
def list_quick_replies(request, page: Query[PageParams], q: str | None = None):
    replies = selectors.quick_replies_visible_to(current_user(request))
    if q:
        replies = replies.filter(Q(shortcut__istartswith=q) | Q(content__icontains=q))
    return page_of(replies, page, ordering=("shortcut", "id"))


@router.post("", response={201: QuickReplyOut})
def create_quick_reply(request, payload: QuickReplyIn):
    return Status(201, services.quick_reply_create(
        actor=current_user(request), shortcut=payload.shortcut, content=payload.content,
        personal=payload.personal,
    ))


@router.delete("/{int:reply_id}", response={204: None})
def delete_quick_reply(request, reply_id: int):
    reply = get_object_or_404(QuickReply, pk=reply_id)
    services.quick_reply_delete(actor=current_user(request), quick_reply=reply)
    return Status(204, None)
