"""`/api/v1/contacts` and `/api/v1/contact-fields`: the contacts CRM and its custom fields.

Every role reads and writes contacts (API keys need `contacts:read` / `contacts:write`); custom
field definitions are managed by admins and supervisors.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import AfterValidator, Field, StringConstraints, validate_email

from apps.contacts import selectors, services
from apps.contacts.audience_filters import contacts_in_audience
from apps.conversations.contact_erasure import contact_erase
from apps.conversations.contact_merge import contact_merge
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["contacts"])
fields_router = Router(tags=["contacts"])

LeadStatus = Literal["new", "contacted", "qualified", "customer", "lost"]
FieldType = Literal["text", "number", "date", "bool", "choice"]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def _blank_or_email(value: str) -> str:
    return validate_email(value)[1] if value else value


# An email, or "" to have none.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_blank_or_email),
]
Score = Annotated[int, Field(ge=0, le=2_147_483_647)]
Country = Annotated[str, StringConstraints(pattern=r"^([A-Za-z]{2})?$")]


class ContactOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    avatar_url: str
    language: str
    time_zone: str
    lead_status: str
    lead_score: int
    tags: list[str]
    custom_fields: dict[str, Any]
    notes: str
    opted_out: bool
    opted_out_at: datetime | None
    blocked: bool
    company_name: str
    city: str
    country: str
    last_inbound_at: datetime | None
    last_contact_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactIn(Schema):
    phone: str = Field(min_length=1, max_length=32, description="With the country code: +5511987654321.")
    name: str = Field("", max_length=200)
    email: Email = ""
    avatar_url: str = Field("", max_length=500)
    language: str = Field("", max_length=10)
    time_zone: str = Field("", max_length=64, description="An IANA name, e.g. America/Sao_Paulo.")
    lead_status: LeadStatus = "new"
    lead_score: Score = 0
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    notes: str = Field("", max_length=10_000)
    opted_out: bool = False
    blocked: bool = False
    company_name: str = Field("", max_length=200)
    city: str = Field("", max_length=100)
    country: Country = Field("", description="ISO 3166-1 alpha-2, e.g. BR.")


class ContactPatch(Schema):
    """Only the fields sent change. Defaults are None but null is refused: a field is set or left."""

    phone: str = Field(None, min_length=1, max_length=32)
    name: str = Field(None, max_length=200)
    email: Email = None
    avatar_url: str = Field(None, max_length=500)
    language: str = Field(None, max_length=10)
    time_zone: str = Field(None, max_length=64)
    lead_status: LeadStatus = None
    lead_score: Score = None
    tags: list[Tag] = Field(None, max_length=50, description="Replaces the contact's tags.")
    custom_fields: dict[str, Any] = Field(
        None, description="Merged into the contact's values; a null value removes that key.",
    )
    notes: str = Field(None, max_length=10_000)
    opted_out: bool = None
    blocked: bool = None
    company_name: str = Field(None, max_length=200)
    city: str = Field(None, max_length=100)
    country: Country = None


class ContactFilters(Schema):
    q: str | None = Field(None, max_length=200, description="Name, email or phone digits.")
    tag: str | None = Field(None, max_length=50)
    lead_status: LeadStatus | None = None
    custom_field: str | None = Field(None, max_length=1100, description="key=value")
    opted_out: bool | None = None
    blocked: bool | None = None
    list: int | None = Field(None, description="Only members of this contact list.")
    segment: int | None = Field(None, description="Only contacts this segment matches now.")


class MergeIn(Schema):
    other_id: int = Field(description="The contact folded into this one (and then deleted).")


class TagsIn(Schema):
    tags: list[Tag] = Field(min_length=1, max_length=50)


class CustomFieldOut(Schema):
    key: str
    label: str
    type: str
    choices: list[str]
    created_at: datetime


class CustomFieldPage(Schema):
    items: list[CustomFieldOut]
    next_cursor: str | None


class CustomFieldIn(Schema):
    key: str = Field(min_length=1, max_length=50, description="Lower-case letters, digits, underscores.")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType
    choices: list[str] = Field(default_factory=list, max_length=100, description="For `choice` fields.")


# --- contacts ---------------------------------------------------------------------------------

@router.get("", response=ContactPage)
def list_contacts(request, filters: Query[ContactFilters], page: Query[PageParams]):
    params = filters.dict()
    list_id, segment_id = params.pop("list"), params.pop("segment")
    contacts = selectors.contact_list_for(request.auth, **params)
    contacts = contacts_in_audience(contacts, actor=request.auth, list_id=list_id, segment_id=segment_id)
    return page_of(contacts, page, ordering=("-id",))


@router.post("", response={201: ContactOut})
def create_contact(request, payload: ContactIn):
    services.check_contact_write(actor=request.auth)
    return Status(201, services.contact_create(actor=request.auth, **payload.dict()))


@router.get("/{int:contact_id}", response=ContactOut)
def get_contact(request, contact_id: int):
    return selectors.contact_get_for(request.auth, contact_id)


@router.patch("/{int:contact_id}", response=ContactOut)
def update_contact(request, contact_id: int, payload: ContactPatch):
    services.check_contact_write(actor=request.auth)
    contact = selectors.contact_get(contact_id=contact_id)
    return services.contact_update(contact=contact, actor=request.auth, **payload.dict(exclude_unset=True))


@router.delete("/{int:contact_id}", response={204: None})
def delete_contact(request, contact_id: int):
    services.check_contact_write(actor=request.auth)
    services.contact_delete(contact=selectors.contact_get(contact_id=contact_id), actor=request.auth)
    return Status(204, None)


@router.post("/{int:contact_id}/tags", response=ContactOut)
def add_tags(request, contact_id: int, payload: TagsIn):
    services.check_contact_write(actor=request.auth)
    contact = selectors.contact_get(contact_id=contact_id)
    return services.contact_add_tags(contact=contact, tags=payload.tags, actor=request.auth)


# `path:` so that a tag holding a "/" can be removed too (sent percent-encoded).
@router.delete("/{int:contact_id}/tags/{path:tag}", response=ContactOut)
def remove_tag(request, contact_id: int, tag: str):
    services.check_contact_write(actor=request.auth)
    contact = selectors.contact_get(contact_id=contact_id)
    return services.contact_remove_tags(contact=contact, tags=[tag], actor=request.auth)


@router.post("/{int:contact_id}/merge", response=ContactOut)
def merge_contact(request, contact_id: int, payload: MergeIn):
    """Fold `other_id` into this contact: its conversations (with their notes), lists and tags move
    here, empty fields are filled from it, custom fields merge (this contact's values win); the
    other is deleted and points here. Supervisors and admins; keys need `contacts:write`."""
    return contact_merge(
        actor=request.auth, contact_id=contact_id, other_id=payload.other_id, request=request,
    )


@router.post("/{int:contact_id}/erase", response=ContactOut)
def erase_contact(request, contact_id: int):
    """GDPR erasure: personal data, message texts and files removed, conversations kept anonymised.
    Admins only, never with an API key. Idempotent (also for a contact already deleted)."""
    return contact_erase(actor=request.auth, contact_id=contact_id, request=request)


# --- custom field definitions ------------------------------------------------------------------

@fields_router.get("", response=CustomFieldPage)
def list_fields(request, page: Query[PageParams]):
    return page_of(selectors.custom_fields_visible_to(request.auth), page, ordering=("id",))


@fields_router.post("", response={201: CustomFieldOut})
def create_field(request, payload: CustomFieldIn):
    services.check_custom_fields_manage(actor=request.auth)
    return Status(201, services.custom_field_create(**payload.dict()))


@fields_router.delete("/{key}", response={204: None})
def delete_field(request, key: str):
    services.check_custom_fields_manage(actor=request.auth)
    services.custom_field_delete(definition=selectors.custom_field_get(key=key))
    return Status(204, None)
