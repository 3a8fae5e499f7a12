"""`/api/v1/contact-lists`: static contact lists and their members (SPEC §5, §15.1).

Everyone reads lists (keys: `contacts:read`); supervisors and admins change them (keys:
`contacts:write`). Members are added and removed in bulk: `{"contact_ids": [...]}`, up to 10,000.
"""

from datetime import datetime

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.contacts import lists
from ninja_api.pagination import PageParams, page_of
from ninja_api.routers.contacts import ContactPage

router = Router(tags=["contact lists"])


class ContactListOut(Schema):
    id: int
    name: str
    description: str
    member_count: int
    created_at: datetime
    updated_at: datetime


class ContactListPage(Schema):
    items: list[ContactListOut]
    next_cursor: str | None


class ContactListIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=300)


class ContactListPatch(Schema):
    # Omitted fields stay as they are; null is refused.
    name: str = Field(None, min_length=1, max_length=100)
    description: str = Field(None, max_length=300)


class MembersIn(Schema):
    contact_ids: list[int] = Field(min_length=1, max_length=lists.MAX_MEMBER_IDS)


class MembersChanged(Schema):
    """How many contacts the call added (or removed), and how many the list has now."""

    added: int | None = None
    removed: int | None = None
    member_count: int


@router.get("", response=ContactListPage)
def list_lists(request, page: Query[PageParams]):
    return page_of(lists.contact_lists_visible_to(request.auth), page, ordering=("-id",))


@router.post("", response={201: ContactListOut})
def create_list(request, payload: ContactListIn):
    created = lists.contact_list_create(actor=request.auth, **payload.dict())
    return Status(201, lists.contact_list_get(list_id=created.pk))


@router.get("/{int:list_id}", response=ContactListOut)
def get_list(request, list_id: int):
    return lists.contact_list_get_for(request.auth, list_id)


@router.patch("/{int:list_id}", response=ContactListOut)
def update_list(request, list_id: int, payload: ContactListPatch):
    contact_list = lists.contact_list_get(list_id=list_id)
    changes = payload.dict(exclude_unset=True)
    lists.contact_list_update(actor=request.auth, contact_list=contact_list, **changes)
    return lists.contact_list_get(list_id=list_id)


@router.delete("/{int:list_id}", response={204: None})
def delete_list(request, list_id: int):
    contact_list = lists.contact_list_get(list_id=list_id)
    lists.contact_list_delete(actor=request.auth, contact_list=contact_list)
    return Status(204, None)


@router.get("/{int:list_id}/members", response=ContactPage)
def list_members(request, list_id: int, page: Query[PageParams]):
    contact_list = lists.contact_list_get_for(request.auth, list_id)
    return page_of(lists.list_members(contact_list), page, ordering=("-id",))


@router.post("/{int:list_id}/members", response=MembersChanged)
def add_members(request, list_id: int, payload: MembersIn):
    contact_list = lists.contact_list_get(list_id=list_id)
    added = lists.contact_list_add_members(
        actor=request.auth, contact_list=contact_list, contact_ids=payload.contact_ids,
    )
    return {"added": added, "member_count": lists.member_count(contact_list)}


@router.delete("/{int:list_id}/members", response=MembersChanged)
def remove_members(request, list_id: int, payload: MembersIn):
    contact_list = lists.contact_list_get(list_id=list_id)
    removed = lists.contact_list_remove_members(
        actor=request.auth, contact_list=contact_list, contact_ids=payload.contact_ids,
    )
    return {"removed": removed, "member_count": lists.member_count(contact_list)}
