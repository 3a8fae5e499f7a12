"""The contacts page of the agents' UI: a searchable, filterable list and one contact with its
conversations (those the viewer may see)."""

from urllib.parse import urlencode

from django.db.models import F, Func
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.contacts.audience_filters import contacts_in_audience
from apps.contacts.lists import contact_lists_visible_to
from apps.contacts.models import Contact
from apps.contacts.segments import segments_visible_to
from apps.contacts.selectors import contact_get_for, contact_list_for
from apps.conversations.selectors import conversations_visible_to
from apps.web.auth import action_required
from conversa.errors import DomainError
from ninja_api.pagination import paginate

PAGE_SIZE = 50


def _filters(request) -> dict:
    lead_status = request.GET.get("lead_status", "")
    return {
        "q": request.GET.get("q", "").strip()[:100],
        "tag": request.GET.get("tag", "").strip()[:50],
        "lead_status": lead_status if lead_status in Contact.LeadStatus.values else "",
    }


def _audience_filters(request) -> dict:
    """`?list=` and `?segment=` (ids; anything else is ignored)."""
    values = {key: request.GET.get(key, "").strip() for key in ("list", "segment")}
    return {key: value for key, value in values.items() if value.isdigit() and len(value) < 12}


def _tags() -> list[str]:
    # order_by("tag"): the model's default ordering would join DISTINCT and repeat tags.
    return list(
        Contact.objects.exclude(tags=[]).annotate(tag=Func(F("tags"), function="unnest"))
        .order_by("tag").values_list("tag", flat=True).distinct()[:200]
    )


@action_required("contacts.read")
@require_GET
def contacts_view(request):
    filters = _filters(request)
    audience = _audience_filters(request)
    contacts = contact_list_for(request.user, **{key: value or None for key, value in filters.items()})
    try:
        contacts = contacts_in_audience(
            contacts, actor=request.user, list_id=int(audience.get("list", 0)) or None,
            segment_id=int(audience.get("segment", 0)) or None,
        )
        rows, next_cursor = paginate(contacts, cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except DomainError as exc:
        raise Http404 from exc  # a cursor, list or segment edited by hand
    filters.update(audience)
    context = {
        "section": "contacts", "tab": "contacts", "filters": filters, "rows": rows,
        "next_cursor": next_cursor, "tags": _tags(), "lead_statuses": Contact.LeadStatus.choices,
        "query": urlencode({key: value for key, value in filters.items() if value}),
        "lists": contact_lists_visible_to(request.user).order_by("name", "id"),
        "segments": segments_visible_to(request.user).order_by("name", "id"),
    }
    if request.htmx and request.htmx.target == "contact-results":
        return render(request, "web/partials/contact_results.html", context)
    return render(request, "web/contacts.html", context)


@action_required("contacts.read")
@require_GET
def contact_view(request, contact_id: int):
    try:
        contact = contact_get_for(request.user, contact_id)
    except DomainError as exc:
        raise Http404 from exc
    conversations = (
        conversations_visible_to(request.user).filter(contact=contact)
        .select_related("assignee", "team").order_by("-created_at", "-id")[:100]
    )
    return render(request, "web/contact.html", {
        "section": "contacts", "contact": contact, "conversations": conversations,
    })
