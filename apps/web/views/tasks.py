"""Tasks in the agents' UI: the Tasks page (Mine, Team, Overdue; create), a task's page (edit,
complete with notes, cancel, reopen, comments), and the task lists on the contact and conversation
panels. Writes go through `apps.tasks.services` as the signed-in user; reads through
`apps.tasks.selectors`, so the page shows exactly what the API would."""

import zoneinfo

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import permissions
from apps.accounts.models import User
from apps.tasks import selectors, services
from apps.tasks.models import Task
from apps.web.auth import action_required
from apps.web.forms import ServiceForm
from conversa.errors import DomainError

PAGE_SIZE = 100
PANEL_SIZE = 10
TABS = ("mine", "team", "overdue")
SECTION = {"section": "tasks"}


class TaskForm(ServiceForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, max_length=10_000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    assignee_id = forms.TypedChoiceField(label=_("Assignee"), coerce=int, required=False)
    due_at = forms.DateTimeField(label=_("Due"), required=False,
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    remind_at = forms.DateTimeField(label=_("Remind me at"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    priority = forms.ChoiceField(label=_("Priority"), choices=Task.Priority.choices,
                                 initial=Task.Priority.NORMAL)
    contact_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    conversation_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        if permissions.may(user, "tasks.assign"):
            people = User.objects.filter(is_active=True).order_by("name", "email")
            self.fields["assignee_id"].choices = [(u.pk, u.name or u.email) for u in people]
            self.fields["assignee_id"].initial = user.pk
        else:
            # Agents keep tasks for themselves.
            self.fields["assignee_id"].choices = [(user.pk, user.name or user.email)]
            self.fields["assignee_id"].widget = forms.HiddenInput()
            self.fields["assignee_id"].initial = user.pk


class CompleteForm(forms.Form):
    completion_notes = forms.CharField(label=_("Completion notes"), required=False, max_length=10_000,
                                       widget=forms.Textarea(attrs={"rows": 2}))


def _zone(request):
    try:
        return zoneinfo.ZoneInfo(request.tenant.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _render_in(zone, request, template: str, context: dict, **kwargs):
    """Times shown as they were typed: in the company's time zone (the forms read them in it)."""
    with timezone.override(zone):
        return render(request, template, context, **kwargs)


def _local(value, zone):
    """What a datetime-local input shows: the company's wall-clock time."""
    return timezone.localtime(value, zone).replace(tzinfo=None) if value else None


def _valid(form, zone) -> bool:
    """Whether the form is valid, its datetime-local fields read in the company's time zone."""
    with timezone.override(zone):
        return form.is_valid()


def _task_fields(form: TaskForm) -> dict:
    data = dict(form.cleaned_data)
    data["description"] = data["description"] or ""
    if data.get("assignee_id") in ("", None):
        data["assignee_id"] = None
    return data


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@action_required("tasks.read")
@require_http_methods(["GET", "POST"])
def tasks_view(request):
    user, zone = request.user, _zone(request)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "mine"
    form = TaskForm(request.POST or None, user=user, initial={
        "contact_id": request.GET.get("contact"), "conversation_id": request.GET.get("conversation"),
    })
    if request.method == "POST" and _valid(form, zone):
        data = _task_fields(form)
        try:
            task = services.task_create(actor=user, **data)
        except DomainError as exc:
            form.show_error(exc)
        else:
            messages.success(request, _("Task created."))
            return redirect(_next_url(request, reverse("web:task", args=[task.pk])))
    if tab == "team":
        tasks = selectors.tasks_of_my_teams(user).filter(status=Task.Status.PENDING)
    elif tab == "overdue":
        tasks = selectors.task_list(user, overdue=True)
    else:
        tasks = selectors.task_list(user, assignee="me").exclude(status=Task.Status.CANCELLED)
    tasks = tasks.order_by("status", "due_at", "id")
    return _render_in(zone, request, "web/tasks/list.html", {
        **SECTION, "tab": tab, "tabs": TABS, "tasks": list(tasks[:PAGE_SIZE]), "form": form,
        "now": timezone.now(), "zone": zone,
    }, status=422 if request.method == "POST" else 200)


@action_required("tasks.read")
@require_http_methods(["GET", "POST"])
def task_view(request, task_id: int):
    user, zone = request.user, _zone(request)
    task = selectors.task_get_for(user, task_id)
    initial = {
        "title": task.title, "description": task.description, "assignee_id": task.assignee_id,
        "priority": task.priority, "contact_id": task.contact_id, "conversation_id": task.conversation_id,
        "due_at": _local(task.due_at, zone), "remind_at": _local(task.remind_at, zone),
    }
    form = TaskForm(request.POST or None, user=user, initial=initial)
    if task.assignee_id not in dict(form.fields["assignee_id"].choices):
        form.fields["assignee_id"].choices = [(task.assignee_id, task.assignee.name or task.assignee.email),
                                              *form.fields["assignee_id"].choices]
    if request.method == "POST" and _valid(form, zone):
        try:
            services.task_update(actor=user, task=task, **_task_fields(form))
        except DomainError as exc:
            form.show_error(exc)
        else:
            messages.success(request, _("Task saved."))
            return redirect("web:task", task_id=task.pk)
    return _render_in(zone, request, "web/tasks/detail.html", {
        **SECTION, "task": task, "form": form, "complete_form": CompleteForm(),
        "comments": selectors.comments_of(task), "now": timezone.now(), "zone": zone,
    }, status=422 if request.method == "POST" else 200)


@action_required("tasks.write")
@require_POST
def task_status_view(request, task_id: int, status: str):
    if status not in Task.Status.values:
        raise Http404
    task = selectors.task_get_for(request.user, task_id)
    changes = {"status": status}
    if status == Task.Status.DONE:
        form = CompleteForm(request.POST)
        changes["completion_notes"] = form.cleaned_data["completion_notes"] if form.is_valid() else ""
    try:
        services.task_update(actor=request.user, task=task, **changes)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, {
            Task.Status.DONE: _("Task completed."), Task.Status.CANCELLED: _("Task cancelled."),
        }.get(status, _("Task reopened.")))
    return redirect(_next_url(request, reverse("web:task", args=[task.pk])))


@action_required("tasks.write")
@require_POST
def task_comment_view(request, task_id: int):
    task = selectors.task_get_for(request.user, task_id)
    try:
        services.task_comment_add(actor=request.user, task=task, text=request.POST.get("text", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(f"{reverse('web:task', args=[task.pk])}#comments")


@action_required("tasks.read")
@require_GET
def tasks_panel_view(request):
    """The pending tasks of a conversation (`?conversation=`) or a contact (`?contact=`) that the
    user sees, for the conversation's side panel and the contact's page (loaded by htmx)."""
    conversation = request.GET.get("conversation", "")
    contact = request.GET.get("contact", "")
    if not (conversation.isdigit() or contact.isdigit()):
        raise Http404
    tasks = selectors.task_list(request.user, status=Task.Status.PENDING,
                                conversation=int(conversation) if conversation.isdigit() else None,
                                contact=int(contact) if contact.isdigit() else None)
    new_url = f"{reverse('web:tasks')}?" + (f"conversation={conversation}" if conversation.isdigit()
                                            else f"contact={contact}")
    return _render_in(_zone(request), request, "web/tasks/panel.html", {
        "tasks": list(tasks.order_by("due_at", "id")[:PANEL_SIZE]), "new_url": new_url,
        "now": timezone.now(),
    })
