"""Settings → Automation (rules, admins) and Settings → Macros (everyone: their own and the shared
ones), and running a macro from the conversation view. Rights are the services' and selectors'."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts import permissions
from apps.accounts.models import User
from apps.automation import selectors, services
from apps.automation.models import Macro, Rule
from apps.conversations import selectors as conversation_selectors
from apps.conversations.models import Conversation
from apps.inboxes.models import Inbox
from apps.teams.models import Team
from apps.web import automation_forms
from apps.web.auth import action_required, agent_required
from apps.web.views.conversation import _flash_error, conversation_context
from conversa.errors import DomainError, ValidationFailed


def _editor_context(request, tab: str, **context) -> dict:
    return {
        "section": "settings", "tab": tab, **automation_forms.choices(),
        "inboxes": Inbox.objects.only("name").order_by("name", "id"),
        "teams": Team.objects.only("name").order_by("name", "id"),
        "users": User.objects.filter(is_active=True).only("name", "email").order_by("name", "email"),
        **context,
    }


def _rule_values(data) -> dict:
    position = (data.get("position") or "0").strip()
    return {
        "name": data.get("name", ""), "event": data.get("event", ""), "active": data.get("active") == "on",
        "position": int(position) if position.isdigit() else position,
        "conditions": automation_forms.conditions_from(data), "actions": automation_forms.actions_from(data),
    }


def _rule_page(request, rule: Rule | None, *, values: dict | None = None, errors=(), status: int = 200):
    if values is None and rule is not None:
        values = {"name": rule.name, "event": rule.event, "active": rule.active, "position": rule.position,
                  "conditions": rule.conditions, "actions": rule.actions}
    elif values is None:
        values = {"name": "", "event": Rule.Event.MESSAGE_CREATED, "active": True, "position": 0,
                  "conditions": [], "actions": []}
    return render(request, "web/settings/automation_rule.html", _editor_context(
        request, "automation", rule=rule, values=values, events=Rule.Event.choices, errors=list(errors),
        condition_rows=automation_forms.editor_rows(values["conditions"]),
        action_rows=automation_forms.editor_rows(values["actions"]),
    ), status=status)


@action_required("automation.manage")
def rules_view(request):
    context = _editor_context(request, "automation", rules=selectors.rules_visible_to(request.user))
    return render(request, "web/settings/automation.html", context)


@action_required("automation.manage")
def rule_new_view(request):
    if request.method != "POST":
        return _rule_page(request, None)
    values = _rule_values(request.POST)
    try:
        services.rule_create(actor=request.user, values=values, request=request)
    except ValidationFailed as exc:
        return _rule_page(request, None, values=values, errors=automation_forms.row_errors(exc.details),
                          status=422)
    messages.success(request, _("Rule created."))
    return redirect("web:settings-automation")


@action_required("automation.manage")
def rule_edit_view(request, rule_id: int):
    rule = selectors.rule_get_for(request.user, rule_id)
    if request.method != "POST":
        return _rule_page(request, rule)
    values = _rule_values(request.POST)
    try:
        services.rule_update(actor=request.user, rule=rule, values=values, request=request)
    except ValidationFailed as exc:
        return _rule_page(request, rule, values=values, errors=automation_forms.row_errors(exc.details),
                          status=422)
    messages.success(request, _("Rule saved."))
    return redirect("web:settings-automation")


@action_required("automation.manage")
@require_POST
def rule_toggle_view(request, rule_id: int):
    rule = selectors.rule_get_for(request.user, rule_id)
    rule = services.rule_update(actor=request.user, rule=rule, values={"active": not rule.active},
                                request=request)
    if request.htmx:
        return render(request, "web/settings/partials/automation_rule_row.html", {"rule": rule})
    return redirect("web:settings-automation")


@action_required("automation.manage")
@require_POST
def rule_delete_view(request, rule_id: int):
    rule = selectors.rule_get_for(request.user, rule_id)
    services.rule_delete(actor=request.user, rule=rule, request=request)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Rule deleted."))
    return redirect("web:settings-automation")


def _macro_page(request, macro: Macro | None, *, values: dict | None = None, errors=(), status: int = 200):
    if values is None:
        values = ({"name": macro.name, "visibility": macro.visibility, "actions": macro.actions} if macro
                  else {"name": "", "visibility": Macro.Visibility.PERSONAL, "actions": []})
    return render(request, "web/settings/macro.html", _editor_context(
        request, "macros", macro=macro, values=values, errors=list(errors),
        may_share=permissions.may(request.user, "macros.share"),
        action_rows=automation_forms.editor_rows(values["actions"]),
    ), status=status)


def _macro_values(data) -> dict:
    return {"name": data.get("name", ""), "visibility": data.get("visibility", Macro.Visibility.PERSONAL),
            "actions": automation_forms.actions_from(data)}


@action_required("macros.use")
def macros_view(request):
    macros = [(macro, selectors.may_edit_macro(request.user, macro))
              for macro in selectors.macros_visible_to(request.user)]
    return render(request, "web/settings/macros.html", _editor_context(request, "macros", macros=macros))


@action_required("macros.use")
def macro_new_view(request):
    if request.method != "POST":
        return _macro_page(request, None)
    values = _macro_values(request.POST)
    try:
        services.macro_create(actor=request.user, values=values)
    except ValidationFailed as exc:
        return _macro_page(request, None, values=values, errors=automation_forms.row_errors(exc.details),
                           status=422)
    messages.success(request, _("Macro created."))
    return redirect("web:settings-macros")


@action_required("macros.use")
def macro_edit_view(request, macro_id: int):
    macro = selectors.macro_get_for(request.user, macro_id)
    if request.method != "POST":
        return _macro_page(request, macro)
    values = _macro_values(request.POST)
    try:
        services.macro_update(actor=request.user, macro=macro, values=values)
    except ValidationFailed as exc:
        return _macro_page(request, macro, values=values, errors=automation_forms.row_errors(exc.details),
                           status=422)
    messages.success(request, _("Macro saved."))
    return redirect("web:settings-macros")


@action_required("macros.use")
@require_POST
def macro_delete_view(request, macro_id: int):
    services.macro_delete(actor=request.user, macro=selectors.macro_get_for(request.user, macro_id))
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Macro deleted."))
    return redirect("web:settings-macros")


@agent_required
@require_POST
def macro_run_view(request, conversation_id: int, macro_id: int):
    """Run a macro from the conversation's header: the pane shows the result, or the refusal
    (naming the action) with nothing changed."""
    conversation = conversation_selectors.conversation_get_for(request.user, conversation_id)
    macro = selectors.macro_get_for(request.user, macro_id)
    try:
        services.macro_run(actor=request.user, macro=macro, conversation=conversation)
    except DomainError as exc:
        return _flash_error(exc)
    conversation = Conversation.objects.select_related("contact", "inbox", "assignee").get(pk=conversation.pk)
    if not conversation_selectors.may_see_conversation(request.user, conversation):
        response = HttpResponse("")
        response["HX-Redirect"] = "/app/"
        return response
    return render(request, "web/partials/conversation_pane.html", conversation_context(request, conversation))
