"""Contacts → Lists and Segments in the agents' UI, "Add to list" on the contacts page, and a
contact's "Merge with…" and "Erase personal data". Everyone sees lists and segments; the forms
that change them show for those the services let change them (agents read them only)."""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.contacts import lists, segments
from apps.contacts.audiences import segment_contacts
from apps.contacts.custom_fields import parse_filter
from apps.contacts.models import Contact
from apps.contacts.selectors import contact_get_for, contact_list_for
from apps.conversations.contact_erasure import contact_erase
from apps.conversations.contact_merge import contact_merge
from apps.web.auth import action_required
from apps.web.forms import ServiceForm
from conversa.errors import DomainError

MEMBERS_PAGE = 100
CANDIDATES = 10


class ListForm(ServiceForm):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=lists.NAME_MAX_LENGTH)
    description = forms.CharField(label=gettext_lazy("Description"), required=False,
                                  max_length=lists.DESCRIPTION_MAX_LENGTH)


class SegmentForm(ServiceForm):
    """The segment builder: every filter given must hold."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=segments.NAME_MAX_LENGTH)
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False, max_length=500,
                           help_text=gettext_lazy("Comma-separated; contacts must have all of them."))
    lead_status = forms.ChoiceField(label=gettext_lazy("Lead status"), required=False)
    custom_field = forms.CharField(label=gettext_lazy("Custom field"), required=False, max_length=1100,
                                   help_text=gettext_lazy("key=value, e.g. plan=gold"))
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=200,
                        help_text=gettext_lazy("Name, email or phone contains this."))

    detail_fields = {"filters.tags": "tags", "filters.lead_status": "lead_status", "filters.q": "q"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead_status"].choices = [("", _("Any lead status")), *Contact.LeadStatus.choices]

    def show_error(self, exc: DomainError) -> None:
        for detail in exc.details if isinstance(exc.details, list) else []:
            if isinstance(detail, dict) and str(detail.get("field", "")).startswith("filters.custom_fields"):
                detail["field"] = "custom_field"
        super().show_error(exc)

    def filters(self) -> dict:
        """The API's filters from the cleaned form; 422 (ValidationFailed) for a bad custom field."""
        data = self.cleaned_data
        filters = {}
        tags = [tag.strip() for tag in data.get("tags", "").split(",") if tag.strip()]
        if tags:
            filters["tags"] = tags
        if data.get("lead_status"):
            filters["lead_status"] = data["lead_status"]
        if data.get("custom_field"):
            filters["custom_fields"] = parse_filter(data["custom_field"])  # 422 naming custom_field
        if data.get("q", "").strip():
            filters["q"] = data["q"].strip()
        return filters

    @staticmethod
    def initial_for(segment) -> dict:
        filters = segment.filters or {}
        custom = filters.get("custom_fields") or {}
        return {
            "name": segment.name, "tags": ", ".join(filters.get("tags", [])),
            "lead_status": filters.get("lead_status", ""), "q": filters.get("q", ""),
            "custom_field": ", ".join(f"{key}={value}" for key, value in custom.items())[:1100],
        }


def _page(request, template: str, context: dict, status: int = 200):
    return render(request, template, {"section": "contacts", **context}, status=status)


def _error_text(exc: DomainError) -> str:
    details = " ".join(str(d.get("message", "")) for d in exc.details if isinstance(d, dict))
    return details or exc.message


def _hx_redirect(url: str) -> HttpResponse:
    response = HttpResponse("")
    response["HX-Redirect"] = url
    return response


# --- lists ------------------------------------------------------------------------------------

@action_required("audiences.read")
def lists_view(request):
    form = ListForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = lists.contact_list_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("List %(name)s created.") % {"name": created.name})
                return redirect("web:contact-list", list_id=created.pk)
        else:
            status = 422
    return _page(request, "web/lists.html", {
        "tab": "lists", "form": form,
        "lists": lists.contact_lists_visible_to(request.user).order_by("name", "id"),
    }, status=status)


@action_required("audiences.read")
def list_view(request, list_id: int):
    contact_list = lists.contact_list_get_for(request.user, list_id)
    form = ListForm(request.POST or None, initial={
        "name": contact_list.name, "description": contact_list.description,
    })
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                lists.contact_list_update(actor=request.user, contact_list=contact_list, **form.cleaned_data)
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("List saved."))
                return redirect("web:contact-list", list_id=contact_list.pk)
        else:
            status = 422
    members = lists.list_members(contact_list).order_by("-id")[:MEMBERS_PAGE]
    return _page(request, "web/list.html", {
        "tab": "lists", "contact_list": contact_list, "form": form, "members": members,
    }, status=status)


@action_required("audiences.manage")
@require_POST
def list_delete_view(request, list_id: int):
    contact_list = lists.contact_list_get_for(request.user, list_id)
    lists.contact_list_delete(actor=request.user, contact_list=contact_list)
    messages.success(request, _("List %(name)s deleted.") % {"name": contact_list.name})
    url = reverse("web:contact-lists")
    return _hx_redirect(url) if request.htmx else redirect(url)


@action_required("audiences.manage")
@require_POST
def list_member_remove_view(request, list_id: int, contact_id: int):
    contact_list = lists.contact_list_get_for(request.user, list_id)
    lists.contact_list_remove_members(actor=request.user, contact_list=contact_list, contact_ids=[contact_id])
    messages.success(request, _("Removed from the list."))
    return redirect("web:contact-list", list_id=contact_list.pk)


def _ids(values) -> list[int]:
    return [int(value) for value in values if str(value).isdigit()][: lists.MAX_MEMBER_IDS]


@action_required("audiences.manage")
@require_POST
def add_to_list_view(request):
    """The contacts page's "Add to list": the ticked contacts join the chosen list."""
    back = reverse("web:contacts") + (f"?{request.POST['query']}" if request.POST.get("query") else "")
    list_ids = _ids([request.POST.get("list_id", "")])
    contact_ids = _ids(request.POST.getlist("contact_ids"))
    if not list_ids or not contact_ids:
        messages.error(request, _("Choose a list and tick at least one contact."))
        return redirect(back)
    try:
        contact_list = lists.contact_list_get_for(request.user, list_ids[0])
        added = lists.contact_list_add_members(
            actor=request.user, contact_list=contact_list, contact_ids=contact_ids,
        )
    except DomainError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    messages.success(request, _("%(count)d added to %(name)s.") % {"count": added, "name": contact_list.name})
    return redirect(back)


# --- segments ---------------------------------------------------------------------------------

@action_required("audiences.read")
def segments_view(request):
    form = SegmentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = segments.segment_create(
                    actor=request.user, name=form.cleaned_data["name"], filters=form.filters(),
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Segment %(name)s created.") % {"name": created.name})
                return redirect("web:segment", segment_id=created.pk)
        else:
            status = 422
    rows = [(segment, segments.segment_count(segment))
            for segment in segments.segments_visible_to(request.user).order_by("name", "id")]
    return _page(request, "web/segments.html", {"tab": "segments", "form": form, "rows": rows},
                 status=status)


@action_required("audiences.read")
def segment_view(request, segment_id: int):
    segment = segments.segment_get_for(request.user, segment_id)
    form = SegmentForm(request.POST or None, initial=SegmentForm.initial_for(segment))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                segments.segment_update(actor=request.user, segment=segment, name=form.cleaned_data["name"],
                                        filters=form.filters())
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Segment saved."))
                return redirect("web:segment", segment_id=segment.pk)
        else:
            status = 422
    members = segment_contacts(segment).order_by("-id")[:MEMBERS_PAGE]
    return _page(request, "web/segment.html", {
        "tab": "segments", "segment": segment, "form": form, "members": members,
        "count": segments.segment_count(segment),
    }, status=status)


@action_required("audiences.manage")
@require_POST
def segment_delete_view(request, segment_id: int):
    segment = segments.segment_get_for(request.user, segment_id)
    segments.segment_delete(actor=request.user, segment=segment)
    messages.success(request, _("Segment %(name)s deleted.") % {"name": segment.name})
    url = reverse("web:segments")
    return _hx_redirect(url) if request.htmx else redirect(url)


@action_required("audiences.read")
@require_GET
def segment_count_view(request):
    """The builder's live count of the filters typed so far (not saved)."""
    form = SegmentForm({**request.GET.dict(), "name": "-"})
    count, error = None, ""
    if form.is_valid():
        try:
            count = segments.segment_preview_count(actor=request.user, filters=form.filters())
        except DomainError as exc:
            error = _error_text(exc)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(request, "web/partials/segment_count.html", {"count": count, "error": error})


# --- merge and erasure ------------------------------------------------------------------------

@action_required("contacts.merge")
@require_GET
def merge_candidates_view(request, contact_id: int):
    """Contacts matching the search that could be merged into this one (itself left out)."""
    contact = contact_get_for(request.user, contact_id)
    q = request.GET.get("q", "").strip()[:100]
    candidates = []
    if q:
        found = contact_list_for(request.user, q=q).exclude(pk=contact.pk)
        candidates = list(found.order_by("-id")[:CANDIDATES])
    return render(request, "web/partials/merge_candidates.html", {
        "contact": contact, "candidates": candidates, "q": q,
    })


@action_required("contacts.merge")
@require_POST
def merge_view(request, contact_id: int):
    contact = contact_get_for(request.user, contact_id)
    other_ids = _ids([request.POST.get("other_id", "")])
    if not other_ids:
        messages.error(request, _("Choose the contact to merge into this one."))
        url = reverse("web:contact-detail", args=[contact.pk])
        return _hx_redirect(url) if request.htmx else redirect(url)
    try:
        contact_merge(actor=request.user, contact_id=contact.pk, other_id=other_ids[0], request=request)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Contacts merged."))
    url = reverse("web:contact-detail", args=[contact.pk])
    return _hx_redirect(url) if request.htmx else redirect(url)


@action_required("contacts.erase")
@require_POST
def erase_view(request, contact_id: int):
    contact = contact_get_for(request.user, contact_id)
    contact_erase(actor=request.user, contact_id=contact.pk, request=request)
    messages.success(request, _("The contact's personal data was erased."))
    url = reverse("web:contacts")
    return _hx_redirect(url) if request.htmx else redirect(url)
