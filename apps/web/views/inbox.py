"""The team inbox: tabs, filters, live counts and an endlessly scrolling conversation list."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.conversations.labels import labels_in_use
from apps.inboxes.models import Inbox
from apps.web.auth import agent_required
from apps.web.inbox_query import (
    PAGE_SIZE,
    TABS,
    InboxFilters,
    inbox_conversations,
    landing_tab,
    status_choices,
    tab_counts,
    team_choices,
)
from ninja_api.pagination import paginate

ORDERING = ("-activity", "-id")
# The tab an agent last opened, to come back to it (when it has work) on the next visit.
LAST_TAB = "inbox_tab"


def list_page(request, filters: InboxFilters, cursor: str | None = None):
    """One page of the list: (rows, cursor of the next page or None)."""
    return paginate(
        inbox_conversations(request.user, filters), cursor=cursor, limit=PAGE_SIZE, ordering=ORDERING
    )


def inbox_context(request, filters: InboxFilters, counts: dict | None = None) -> dict:
    rows, next_cursor = list_page(request, filters)
    counts = counts or tab_counts(request.user)
    return {
        "filters": filters,
        "tabs": [(value, label) for value, label in TABS if value in counts],
        "counts": counts,
        "teams": team_choices(request.user),
        "statuses": status_choices(),
        "inboxes": Inbox.objects.filter(is_active=True).only("id", "name"),
        "labels": labels_in_use(),
        "rows": rows,
        "next_cursor": next_cursor,
    }


@agent_required
@require_GET
def inbox_view(request):
    counts = tab_counts(request.user)
    remembered = request.session.get(LAST_TAB)
    if "tab" in request.GET:
        filters = InboxFilters.from_query(request.GET)
    else:
        filters = InboxFilters.from_query(request.GET, default_tab=landing_tab(counts, remembered))
    if filters.tab != remembered:
        request.session[LAST_TAB] = filters.tab
    context = inbox_context(request, filters, counts)
    if request.htmx and request.htmx.target == "conversation-list":
        return render(request, "web/partials/conversation_list.html", context)
    return render(request, "web/inbox.html", context)


@agent_required
@require_GET
def rows_view(request):
    """The next page of the list (infinite scroll)."""
    filters = InboxFilters.from_query(request.GET)
    rows, next_cursor = list_page(request, filters, request.GET.get("cursor"))
    return render(request, "web/partials/conversation_rows.html",
                  {"rows": rows, "next_cursor": next_cursor, "filters": filters})


@agent_required
@require_GET
def row_view(request, conversation_id: int):
    """One conversation's row as the current filters show it, or nothing if it no longer belongs."""
    filters = InboxFilters.from_query(request.GET)
    row = inbox_conversations(request.user, filters).filter(pk=conversation_id).first()
    if row is None:
        return HttpResponse("")
    return render(request, "web/partials/conversation_row.html",
                  {"c": row, "filters": filters, "query": filters.as_query})


@agent_required
@require_GET
def counts_view(request):
    response = JsonResponse(tab_counts(request.user))
    response["Cache-Control"] = "no-store"
    return response
