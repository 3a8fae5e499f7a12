"""`/api/v1/quick-replies`: canned responses, company-wide (managers) or personal."""

import datetime as dt

from django.db.models import Q
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from apps.conversations import services
from apps.conversations.models import QuickReply
from conversa.errors import Forbidden
from ninja_api.auth import current_user

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


@router.get("", response=list[QuickReplyOut])
def list_quick_replies(request, q: str | None = None):
    user = current_user(request)
    replies = QuickReply.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    if q:
        replies = replies.filter(Q(shortcut__istartswith=q) | Q(content__icontains=q))
    return list(replies)


@router.post("", response={201: QuickReplyOut})
def create_quick_reply(request, payload: QuickReplyIn):
    user = current_user(request)
    if not payload.personal and not user.is_supervisor_or_admin:
        raise Forbidden()
    owner = user if payload.personal else None
    return Status(
        201, services.quick_reply_create(shortcut=payload.shortcut, content=payload.content, owner=owner)
    )


@router.delete("/{int:reply_id}", response={204: None})
def delete_quick_reply(request, reply_id: int):
    user = current_user(request)
    reply = get_object_or_404(QuickReply.objects.filter(Q(owner__isnull=True) | Q(owner=user)), pk=reply_id)
    if reply.owner_id is None and not user.is_supervisor_or_admin:
        raise Forbidden()
    services.quick_reply_delete(quick_reply=reply)
    return Status(204, None)
