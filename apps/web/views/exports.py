"""Exports in the agents' UI: "Export" on the contacts page and the inbox (with their current
filters), and a page listing the user's exports with their downloads."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts import permissions
from apps.contacts.models import Contact
from apps.conversations.models import Conversation
from apps.exports import selectors, services
from apps.exports.models import Export
from apps.exports.views import file_response
from apps.web.auth import action_required
from conversa.errors import DomainError

PAGE_SIZE = 50


def _filters(entity: str, post) -> dict:
    """The list's filters as the page sent them; values the page shows but exports do not filter by
    (the inbox's "active" and "any" statuses) are left out."""
    if entity == Export.Entity.CONTACTS:
        found = {key: post.get(key, "").strip() for key in ("q", "tag")}
        if post.get("lead_status") in Contact.LeadStatus.values:
            found["lead_status"] = post["lead_status"]
        return {key: value for key, value in found.items() if value}
    found = {}
    if post.get("status") in Conversation.Status.values:
        found["status"] = post["status"]
    if post.get("inbox", "").isdigit():
        found["inbox"] = post["inbox"]
    if post.get("team") == "none" or post.get("team", "").isdigit():
        found["team"] = post["team"]
    return found


@action_required("exports.create")
@require_http_methods(["GET", "POST"])
def exports_view(request):
    if request.method == "POST":
        entity = request.POST.get("entity", "")
        try:
            services.export_create(
                actor=request.user, entity=entity, format=request.POST.get("format") or None,
                filters=_filters(entity, request.POST) if entity in Export.Entity.values else {},
                request=request,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("web:exports")
            return response
        return redirect("web:exports")
    exports = list(selectors.exports_of(request.user).select_related("created_by")[:PAGE_SIZE])
    pending = any(export.status in (Export.Status.QUEUED, Export.Status.RUNNING) for export in exports)
    context = {"section": "exports", "exports": exports, "pending": pending,
               "may_backup": permissions.may(request.user, "company.backup")}
    if request.htmx and request.htmx.target == "export-rows":
        return render(request, "web/partials/export_rows.html", context)
    return render(request, "web/exports.html", context)


@action_required("exports.create")
@require_GET
def download_view(request, export_id: int):
    export = selectors.export_get_for(request.user, export_id)
    response = file_response(export)
    services.export_record_download(export=export, actor=request.user, request=request)
    return response
