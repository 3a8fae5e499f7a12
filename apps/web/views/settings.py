"""Company settings: users, inboxes and templates, quick replies, API keys, branding; each section
for whoever may take its action (apps.accounts.permissions), everyone else gets a 404."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import permissions
from apps.accounts import services as accounts
from apps.accounts.models import ApiKey, User
from apps.conversations import selectors as conversation_selectors
from apps.conversations import services as conversations
from apps.conversations.company_settings import company_set_reply_assigns
from apps.conversations.models import QuickReply
from apps.inboxes import services as inboxes
from apps.inboxes.models import Inbox, MessageTemplate
from apps.inboxes.selectors import webhook_url
from apps.web.auth import action_required, agent_required
from apps.web.forms import (
    SECRET_FIELDS,
    ApiKeyForm,
    InboxCreateForm,
    InboxEditForm,
    QuickReplyForm,
    TemplateForm,
    UserCreateForm,
    UserRoleForm,
    generated_password,
)
from conversa.errors import DomainError


def _page(request, template: str, tab: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {"section": "settings", "tab": tab, **context}, status=status)


def _no_store(response: HttpResponse) -> HttpResponse:
    """Pages that show a secret once must not be kept by the browser or any proxy."""
    response["Cache-Control"] = "no-store"
    return response


def _refused(request, exc: DomainError, fallback: str) -> HttpResponse:
    """A refused row action: a plain form post goes back with the reason as a flash."""
    messages.error(request, exc.message)
    return redirect(fallback)


SECTIONS = (
    ("users.manage", "web:settings-users"),
    ("inboxes.manage", "web:settings-inboxes"),
    ("quick_replies.use", "web:settings-quick-replies"),
    ("api_keys.manage", "web:settings-api-keys"),
    ("company.manage", "web:settings-branding"),
)


@agent_required
@require_GET
def settings_view(request):
    """The first section this user may open."""
    for action, url in SECTIONS:
        if permissions.may(request.user, action):
            return redirect(url)
    raise Http404


# --- users ----------------------------------------------------------------------------------------

def _seats(request) -> dict:
    return {
        "used": User.objects.filter(is_active=True).count(),
        "limit": request.tenant.plan.limit("max_agents"),
    }


@action_required("users.manage")
def users_view(request):
    form = UserCreateForm(request.POST or None)
    status, shown_password, created = 200, "", None
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            password = data["password"] or generated_password()
            try:
                created = accounts.user_create(
                    actor=request.user, email=data["email"], password=password, name=data["name"],
                    role=data["role"],
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                shown_password = "" if data["password"] else password
                form = UserCreateForm()
        else:
            status = 422
    response = _page(request, "web/settings/users.html", "users", {
        "form": form,
        "users": User.objects.order_by("-is_active", "name", "email"),
        "seats": _seats(request),
        "roles": User.Role.choices,
        "created": created,
        "shown_password": shown_password,
    }, status=status)
    return _no_store(response) if shown_password else response


def _user_row(request, user: User, error: str = "") -> HttpResponse:
    return render(request, "web/settings/partials/user_row.html",
                  {"u": user, "roles": User.Role.choices, "row_error": error})


@action_required("users.manage")
@require_POST
def user_role_view(request, user_id: int):
    user = get_object_or_404(User, pk=user_id)
    form = UserRoleForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError(_("Choose a role."))
        user = accounts.user_update(user=user, actor=request.user, role=form.cleaned_data["role"])
    except DomainError as exc:
        if request.htmx:
            return _user_row(request, user, exc.message)
        return _refused(request, exc, "web:settings-users")
    if request.htmx:
        return _user_row(request, user)
    messages.success(request, _("Role changed."))
    return redirect("web:settings-users")


@action_required("users.manage")
@require_POST
def user_deactivate_view(request, user_id: int):
    user = get_object_or_404(User, pk=user_id)
    try:
        user = accounts.user_deactivate(user=user, actor=request.user)
    except DomainError as exc:
        if request.htmx:
            return _user_row(request, user, exc.message)
        return _refused(request, exc, "web:settings-users")
    if request.htmx:
        return _user_row(request, user)
    messages.success(request, _("User deactivated."))
    return redirect("web:settings-users")


# --- inboxes --------------------------------------------------------------------------------------

@action_required("inboxes.manage")
def inboxes_view(request):
    form = InboxCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                inbox = inboxes.inbox_create(
                    actor=request.user, name=data["name"], provider=data["provider"],
                    credentials=form.credentials(data["provider"]),
                    rate_limit_per_second=data["rate_limit_per_second"],
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Inbox created."))
                return redirect("web:settings-inbox", inbox_id=inbox.pk)
        else:
            status = 422
    limit = request.tenant.plan.limit("max_inboxes")
    return _page(request, "web/settings/inboxes.html", "inboxes", {
        "form": form,
        "inboxes": Inbox.objects.all(),
        "seats": {"used": Inbox.objects.filter(is_active=True).count(), "limit": limit},
    }, status=status)


def connection_info(inbox: Inbox, request=None) -> dict:
    """What an admin needs to connect the provider; secrets only as "set" or "not set"."""
    credentials = inbox.credentials
    info = {"webhook_url": webhook_url(inbox, request), "fields": []}
    if inbox.provider == Inbox.Provider.SANDBOX:
        info["sandbox_token"] = inbox.sandbox_token
    elif inbox.provider == Inbox.Provider.WHATSAPP_CLOUD:
        info["verify_token"] = credentials.get("verify_token", "")
    form_fields = InboxEditForm(inbox=inbox).credential_fields()
    for field in form_fields:
        key = field.name.split("_", 1)[1]
        if key == "verify_token":
            continue  # shown above, in full: Meta's console needs it typed in
        value = credentials.get(key, "")
        info["fields"].append({
            "label": field.label, "secret": key in SECRET_FIELDS, "is_set": bool(value),
            "value": "" if key in SECRET_FIELDS else value,
        })
    return info


def _inbox_context(inbox: Inbox, form: InboxEditForm, template_form: TemplateForm, request=None) -> dict:
    return {
        "inbox": inbox,
        "form": form,
        "template_form": template_form,
        "templates": inbox.templates.all(),
        "connection": connection_info(inbox, request),
    }


def _edit_initial(inbox: Inbox) -> dict:
    return {name: getattr(inbox, name) for name in (
        "name", "rate_limit_per_second", "reopen_window_hours", "greeting_message", "away_message",
        "default_team_id", "daily_limit", "auto_close_after_hours", "auto_close_message",
        "csat_enabled", "csat_mode", "csat_message",
    )}


@action_required("inboxes.manage")
def inbox_view(request, inbox_id: int):
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    form = InboxEditForm(request.POST or None, inbox=inbox, initial=_edit_initial(inbox))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            credentials = form.credentials(inbox.provider)
            try:
                inboxes.inbox_update(
                    actor=request.user, inbox=inbox, credentials=credentials or None,
                    **{name: data[name] for name in _edit_initial(inbox)},
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Inbox saved."))
                return redirect("web:settings-inbox", inbox_id=inbox.pk)
        else:
            status = 422
    return _page(request, "web/settings/inbox.html", "inboxes",
                 _inbox_context(inbox, form, TemplateForm(prefix="template"), request), status=status)


@action_required("inboxes.manage")
@require_POST
def template_create_view(request, inbox_id: int):
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    template_form = TemplateForm(request.POST, prefix="template")
    status = 422
    if template_form.is_valid():
        try:
            inboxes.template_create(actor=request.user, inbox=inbox, **template_form.cleaned_data)
        except DomainError as exc:
            template_form.show_error(exc)
            status = exc.status
        else:
            messages.success(request, _("Template added."))
            return redirect(reverse("web:settings-inbox", args=[inbox.pk]) + "#templates")
    form = InboxEditForm(inbox=inbox, initial=_edit_initial(inbox))
    return _page(request, "web/settings/inbox.html", "inboxes",
                 _inbox_context(inbox, form, template_form, request), status=status)


@action_required("inboxes.manage")
@require_POST
def template_delete_view(request, inbox_id: int, template_id: int):
    template = get_object_or_404(MessageTemplate, pk=template_id, inbox_id=inbox_id)
    inboxes.template_delete(actor=request.user, template=template)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Template deleted."))
    return redirect(reverse("web:settings-inbox", args=[inbox_id]) + "#templates")


# --- quick replies --------------------------------------------------------------------------------

@action_required("quick_replies.use")
def quick_replies_view(request):
    form = QuickReplyForm(request.POST or None)
    if not permissions.may(request.user, "quick_replies.share"):
        # Offer what this user may create: their own replies.
        form.fields["scope"].choices = [c for c in QuickReplyForm.SCOPES if c[0] == "personal"]
        form.fields["scope"].initial = "personal"
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                conversations.quick_reply_create(
                    actor=request.user, shortcut=data["shortcut"], content=data["content"],
                    personal=data["scope"] == "personal",
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Quick reply created."))
                return redirect("web:settings-quick-replies")
        else:
            status = 422
    return _page(request, "web/settings/quick_replies.html", "quick_replies", {
        "form": form,
        "quick_replies": conversation_selectors.quick_replies_visible_to(request.user),
    }, status=status)


@action_required("quick_replies.use")
@require_POST
def quick_reply_delete_view(request, reply_id: int):
    reply = get_object_or_404(QuickReply, pk=reply_id)
    conversations.quick_reply_delete(actor=request.user, quick_reply=reply)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Quick reply deleted."))
    return redirect("web:settings-quick-replies")


# --- API keys -------------------------------------------------------------------------------------

@action_required("api_keys.manage")
def api_keys_view(request):
    form = ApiKeyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                key, full_key = accounts.api_key_create(
                    name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"],
                    created_by=request.user,
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                # Rendered in the answer to the POST, never stored: reloading cannot show it again.
                return _no_store(_page(request, "web/settings/api_key_created.html", "api_keys",
                                       {"key": key, "full_key": full_key}, status=201))
        else:
            status = 422
    return _page(request, "web/settings/api_keys.html", "api_keys", {
        "form": form,
        "keys": ApiKey.objects.select_related("created_by"),
        "api_access": request.tenant.plan.has_feature("api_access"),
    }, status=status)


@action_required("api_keys.manage")
@require_POST
def api_key_revoke_view(request, key_id: int):
    key = accounts.api_key_revoke(key=get_object_or_404(ApiKey, pk=key_id), actor=request.user)
    if request.htmx:
        return render(request, "web/settings/partials/api_key_row.html", {"key": key})
    messages.success(request, _("API key revoked."))
    return redirect("web:settings-api-keys")


# --- branding -------------------------------------------------------------------------------------

@action_required("company.manage")
@require_GET
def branding_view(request):
    company = request.tenant
    return _page(request, "web/settings/branding.html", "branding", {
        "company": company,
        "white_label": company.plan.white_label,
    })


@action_required("company.manage")
@require_POST
def conversation_settings_view(request):
    """The company's conversation settings, a form on the branding page."""
    company_set_reply_assigns(actor=request.user, enabled=request.POST.get("reply_assigns") == "on",
                              request=request)
    messages.success(request, _("Settings saved."))
    return redirect("web:settings-branding")
