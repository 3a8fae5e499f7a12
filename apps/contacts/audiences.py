"""Who is in an audience: the contacts of lists, of a segment's saved filters, and of tags.

Segments store their filters as `{tags?, lead_status?, custom_fields?, q?}` (SPEC §15.1) and are read
live, so a segment's members follow the contacts. Campaigns and the lists/segments pages share these
functions: the count a user sees while building a campaign is the audience the campaign sends to.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from apps.contacts.custom_fields import clean_custom_fields
from apps.contacts.models import Contact, ContactListMember, Segment, normalize_tag
from apps.contacts.selectors import contact_search
from conversa.errors import ValidationFailed

SEGMENT_FILTER_KEYS = frozenset({"tags", "lead_status", "custom_fields", "q"})
Q_MAX_LENGTH = 200


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def clean_segment_filters(filters: Any) -> dict:
    """The filters as stored, or 422 naming the first bad key (`filters.tags`, …)."""
    if not isinstance(filters, dict):
        raise _invalid("filters", _("Must be an object."))
    unknown = sorted(set(filters) - SEGMENT_FILTER_KEYS)
    if unknown:
        raise _invalid(f"filters.{unknown[0]}", _("Unknown filter."))
    cleaned: dict[str, Any] = {}
    tags = filters.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(tag, str) and tag.strip() for tag in tags):
            raise _invalid("filters.tags", _("Must be a list of tags."))
        cleaned["tags"] = sorted({normalize_tag(tag) for tag in tags})
    lead_status = filters.get("lead_status")
    if lead_status is not None:
        if lead_status not in Contact.LeadStatus.values:
            raise _invalid("filters.lead_status", _("Unknown lead status."))
        cleaned["lead_status"] = lead_status
    custom_fields = filters.get("custom_fields")
    if custom_fields is not None:
        try:
            cleaned["custom_fields"] = clean_custom_fields(custom_fields)
        except ValidationFailed as exc:
            first = (exc.details or [{}])[0]
            field = first.get("field", "custom_fields")
            raise _invalid(f"filters.{field}", first.get("message", "")) from exc
    q = filters.get("q")
    if q is not None:
        if not isinstance(q, str) or len(q) > Q_MAX_LENGTH:
            message = _("Must be text of at most %(max)d characters.") % {"max": Q_MAX_LENGTH}
            raise _invalid("filters.q", message)
        if q.strip():
            cleaned["q"] = q.strip()
    return cleaned


def segment_condition(filters: dict) -> Q:
    """The contacts a segment's (cleaned) filters select, as one condition; every filter must hold.

    Tags must all be present (`@>`, served by the tags GIN index); custom fields by JSON containment.
    """
    condition = Q()
    if filters.get("tags"):
        condition &= Q(tags__contains=list(filters["tags"]))
    if filters.get("lead_status"):
        condition &= Q(lead_status=filters["lead_status"])
    if filters.get("custom_fields"):
        condition &= Q(custom_fields__contains=filters["custom_fields"])
    if filters.get("q"):
        condition &= contact_search(filters["q"])
    return condition


def in_lists_condition(list_ids: Iterable[int]) -> Q:
    """Contacts that are members of any of the lists, as one condition (EXISTS: each contact once)."""
    return Q(Exists(ContactListMember.objects.filter(
        contact_list_id__in=list(list_ids), contact_id=OuterRef("pk"),
    )))


def segment_contacts(segment: Segment) -> QuerySet[Contact]:
    return Contact.objects.filter(segment_condition(segment.filters))


def audience_contacts(
    *, list_ids: Iterable[int] = (), segment_id: int | None = None, tags: Iterable[str] = (),
) -> QuerySet[Contact]:
    """Contacts (not deleted) in any of the lists, or matched by the segment, or carrying any of the
    tags: the union, each contact once. Opted-out and blocked contacts are included: a campaign counts
    them as skipped. An empty audience selects nobody. 422 for a segment that does not exist."""
    list_ids, tags = sorted(set(list_ids)), sorted({normalize_tag(tag) for tag in tags if tag.strip()})
    condition = Q(pk__in=[])
    if list_ids:
        condition |= in_lists_condition(list_ids)
    if segment_id is not None:
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None:
            raise _invalid("audience.segment_id", _("No such segment."))
        # A segment without filters is everyone (an empty Q would add nobody to the union).
        condition |= segment_condition(segment.filters) if segment.filters else Q(pk__isnull=False)
    if tags:
        condition |= Q(tags__overlap=tags)
    return Contact.objects.filter(condition)
