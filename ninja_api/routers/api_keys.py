"""`/api/v1/api-keys`: admins create (secret shown once), list and revoke keys."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.accounts import services
from apps.accounts.selectors import api_keys_visible_to
from ninja_api.auth import current_user
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["api keys"])


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The full key. Shown once: store it now.")


class ApiKeyPage(Schema):
    items: list[ApiKeyOut]
    next_cursor: str | None


class ApiKeyIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)
    expires_at: datetime | None = None


@router.get("", response=ApiKeyPage)
def list_keys(request, page: Query[PageParams]):
    return page_of(api_keys_visible_to(request.auth), page, ordering=("-id",))


@router.post("", response={201: ApiKeyCreatedOut})
def create_key(request, payload: ApiKeyIn):
    key, full_key = services.api_key_create(created_by=current_user(request), **payload.dict())
    return Status(201, {**ApiKeyOut.from_orm(key).dict(), "key": full_key})


@router.delete("/{int:key_id}", response={204: None})
def revoke_key(request, key_id: int):
    key = get_object_or_404(api_keys_visible_to(request.auth), pk=key_id)
    services.api_key_revoke(key=key, actor=current_user(request))
    return Status(204, None)
