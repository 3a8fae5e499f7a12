"""Segments (saved filters over contacts, read live): their writes and checked reads.

Filters are `{tags?, lead_status?, custom_fields?, q?}`, checked by `clean_segment_filters`; a
segment's members are whoever matches now (`audiences.segment_contacts`), so its count is live.
Everyone reads segments; supervisors and admins change them (keys: `contacts:write`).
"""

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.contacts.audiences import clean_segment_filters, segment_condition, segment_contacts
from apps.contacts.lists import check_audiences_manage
from apps.contacts.models import Contact, Segment
from conversa.errors import Conflict, NotFound, ValidationFailed

NAME_MAX_LENGTH = 100
UNSET = object()


def _name_taken() -> Conflict:
    return Conflict(_("A segment with this name already exists."),
                    details=[{"field": "name", "message": _("Already in use.")}])


def _clean_name(name, *, segment: Segment | None = None) -> str:
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise ValidationFailed(details=[{"field": "name", "message": _("This field is required.")}])
    if len(name) > NAME_MAX_LENGTH or "\x00" in name:
        raise ValidationFailed(details=[{
            "field": "name", "message": _("At most %(max)d characters.") % {"max": NAME_MAX_LENGTH},
        }])
    taken = Segment.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
    if segment is not None:
        taken = taken.exclude(pk=segment.pk)
    if taken.exists():
        raise _name_taken()
    return name


def _save_named(segment: Segment) -> None:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as exc:
        raise _name_taken() from exc


def _locked(segment: Segment) -> Segment:
    locked = Segment.objects.select_for_update().filter(pk=segment.pk).first()
    if locked is None:
        raise NotFound(_("Segment not found."))
    return locked


# --- writes -----------------------------------------------------------------------------------

def segment_create(*, actor: Actor | None, name: str, filters: dict) -> Segment:
    """A saved filter; 422 naming a bad filter key (`filters.tags`…), 409 for a name in use."""
    check_audiences_manage(actor=actor)
    filters = clean_segment_filters(filters)
    with transaction.atomic():
        segment = Segment(name=_clean_name(name), filters=filters, created_by=permissions.acting_user(actor))
        _save_named(segment)
        audit_record(action="segment.created", entity_type="segment", entity_id=segment.pk, actor=actor,
                     changes={"name": segment.name, "filters": filters})
    return segment


def segment_update(*, actor: Actor | None, segment: Segment, name=UNSET, filters=UNSET) -> Segment:
    """Rename it or replace its filters (UNSET: keep). Locks the segment's row."""
    check_audiences_manage(actor=actor)
    if filters is not UNSET:
        filters = clean_segment_filters(filters)
    with transaction.atomic():
        segment = _locked(segment)
        changes = {}
        if name is not UNSET:
            name = _clean_name(name, segment=segment)
            if name != segment.name:
                changes["name"] = [segment.name, name]
                segment.name = name
        if filters is not UNSET and filters != segment.filters:
            changes["filters"] = [segment.filters, filters]
            segment.filters = filters
        if changes:
            _save_named(segment)
            audit_record(action="segment.updated", entity_type="segment", entity_id=segment.pk,
                         actor=actor, changes=changes)
    return segment


def segment_delete(*, actor: Actor | None, segment: Segment) -> None:
    check_audiences_manage(actor=actor)
    with transaction.atomic():
        segment = _locked(segment)
        name, filters, segment_id = segment.name, segment.filters, segment.pk
        segment.delete()
        audit_record(action="segment.deleted", entity_type="segment", entity_id=segment_id, actor=actor,
                     changes={"name": name, "filters": filters})


# --- reads ------------------------------------------------------------------------------------

def segments_visible_to(actor: Actor) -> QuerySet[Segment]:
    permissions.check(actor, "audiences.read")
    return Segment.objects.all()


def segment_get(*, segment_id: int) -> Segment:
    """The segment, or 404 (another company's ids do not exist here). Unchecked: for writes, whose
    services check the actor (a key may write without reading)."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(_("Segment not found."))
    return segment


def segment_get_for(actor: Actor, segment_id: int) -> Segment:
    permissions.check(actor, "audiences.read")
    return segment_get(segment_id=segment_id)


def segment_count(segment: Segment) -> int:
    """How many contacts (not deleted) match the segment now."""
    return segment_contacts(segment).count()


def segment_preview_count(*, actor: Actor, filters: dict) -> int:
    """How many contacts filters that are not saved yet would select (the builder's live count);
    422 for bad filters, as saving them would answer."""
    permissions.check(actor, "audiences.read")
    return Contact.objects.filter(segment_condition(clean_segment_filters(filters))).count()
