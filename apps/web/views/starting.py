"""The "New conversation" dialog: an agent picks an inbox, a contact (or types a phone) and an
approved template with its variables, sees the message, and starts the conversation."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.contacts.selectors import contact_get_for, contact_list_for
from apps.conversations.starting import conversation_start
from apps.inboxes.models import Inbox, MessageTemplate
from apps.web.auth import action_required
from conversa.errors import DomainError

CHOICES = 8


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _matches(user, q: str) -> list:
    return list(contact_list_for(user, q=q).order_by("name", "id")[:CHOICES]) if q.strip() else []


def _form_context(request, data) -> dict:
    inboxes = list(Inbox.objects.filter(is_active=True).only("id", "name").order_by("name", "id"))
    inbox = next((i for i in inboxes if i.pk == _int(data.get("inbox_id"))), inboxes[0] if inboxes else None)
    templates = list(
        MessageTemplate.objects.filter(inbox=inbox, status=MessageTemplate.Status.APPROVED)
    ) if inbox else []
    template = next((t for t in templates if t.pk == _int(data.get("template_id"))),
                    templates[0] if templates else None)
    count = template.variable_count if template else 0
    variables = [data.get(f"var{index}", "") for index in range(1, count + 1)]
    contact = None
    if _int(data.get("contact_id")):
        try:
            contact = contact_get_for(request.user, _int(data.get("contact_id")))
        except DomainError:
            contact = None
    contact_q = data.get("contact_q", "").strip()[:100]
    return {
        "inboxes": inboxes, "inbox": inbox, "templates": templates, "template": template,
        "variables": [(index, value) for index, value in enumerate(variables, start=1)],
        "contact": contact, "contact_q": contact_q, "matches": _matches(request.user, contact_q),
        "phone": data.get("phone", "").strip()[:32], "name": data.get("name", "").strip()[:200],
    }


@action_required("conversations.write")
@require_http_methods(["GET", "POST"])
def new_conversation_view(request):
    if request.method == "GET":
        return render(request, "web/partials/new_conversation_form.html", _form_context(request, request.GET))
    context = _form_context(request, request.POST)
    template = context["template"]
    try:
        conversation = conversation_start(
            actor=request.user,
            inbox_id=context["inbox"].pk if context["inbox"] else None,
            contact_id=context["contact"].pk if context["contact"] else None,
            phone=None if context["contact"] else context["phone"] or None,
            name=context["name"],
            template={"name": template.name, "language": template.language,
                      "variables": [value for _index, value in context["variables"]]} if template else None,
        )
    except DomainError as exc:
        existing = next((d["conversation_id"] for d in exc.details if "conversation_id" in d), None)
        return render(request, "web/partials/new_conversation_form.html", {
            **context, "error": exc.message, "error_details": exc.details, "existing": existing,
        }, status=200)
    response = HttpResponse(status=204)
    response["HX-Redirect"] = reverse("web:conversation", args=[conversation.pk])
    return response


@action_required("contacts.read")
@require_GET
def contact_choices_view(request):
    """Contacts matching what the agent typed in the dialog, to pick one."""
    return render(request, "web/partials/new_conversation_contacts.html",
                  {"matches": _matches(request.user, request.GET.get("contact_q", "")), "contact": None})
