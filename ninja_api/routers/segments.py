"""`/api/v1/segments`: saved filters over contacts, with their live count (SPEC §5, §15.1).

Everyone reads segments (keys: `contacts:read`); supervisors and admins change them (keys:
`contacts:write`). Filters: `{tags?, lead_status?, custom_fields?, q?}`; every one must hold.
"""

from datetime import datetime
from typing import Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.contacts import segments
from apps.contacts.audiences import segment_contacts
from ninja_api.pagination import PageParams, page_of
from ninja_api.routers.contacts import ContactPage

router = Router(tags=["segments"])

FILTERS_HELP = (
    '{"tags": ["vip"], "lead_status": "qualified", "custom_fields": {"plan": "gold"}, "q": "ana"}: '
    "contacts with all the tags, that status, those custom field values and matching the search."
)


class SegmentFilters(Schema):
    model_config = {"extra": "forbid"}

    tags: list[str] | None = None
    lead_status: Literal["new", "contacted", "qualified", "customer", "lost"] | None = None
    custom_fields: dict[str, Any] | None = None
    q: str | None = Field(None, max_length=200)


class SegmentOut(Schema):
    id: int
    name: str
    filters: dict[str, Any]
    count: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_count(segment):
        return segments.segment_count(segment)


class SegmentPage(Schema):
    items: list[SegmentOut]
    next_cursor: str | None


class SegmentIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    filters: SegmentFilters = Field(default_factory=SegmentFilters, description=FILTERS_HELP)


class SegmentPatch(Schema):
    # Omitted fields stay as they are; `filters` replaces the segment's filters as a whole.
    name: str = Field(None, min_length=1, max_length=100)
    filters: SegmentFilters = Field(None, description=FILTERS_HELP)


def _filters(filters: SegmentFilters) -> dict:
    return filters.dict(exclude_none=True)


@router.get("", response=SegmentPage)
def list_segments(request, page: Query[PageParams]):
    return page_of(segments.segments_visible_to(request.auth), page, ordering=("-id",))


@router.post("", response={201: SegmentOut})
def create_segment(request, payload: SegmentIn):
    filters = _filters(payload.filters)
    segment = segments.segment_create(actor=request.auth, name=payload.name, filters=filters)
    return Status(201, segment)


@router.get("/{int:segment_id}", response=SegmentOut)
def get_segment(request, segment_id: int):
    return segments.segment_get_for(request.auth, segment_id)


@router.patch("/{int:segment_id}", response=SegmentOut)
def update_segment(request, segment_id: int, payload: SegmentPatch):
    segment = segments.segment_get(segment_id=segment_id)
    changes = payload.dict(exclude_unset=True)
    if "filters" in changes:
        changes["filters"] = _filters(payload.filters)
    return segments.segment_update(actor=request.auth, segment=segment, **changes)


@router.delete("/{int:segment_id}", response={204: None})
def delete_segment(request, segment_id: int):
    segments.segment_delete(actor=request.auth, segment=segments.segment_get(segment_id=segment_id))
    return Status(204, None)


@router.get("/{int:segment_id}/contacts", response=ContactPage)
def segment_members(request, segment_id: int, page: Query[PageParams]):
    segment = segments.segment_get_for(request.auth, segment_id)
    return page_of(segment_contacts(segment), page, ordering=("-id",))
