"""The sandbox customer page: play a customer of a sandbox inbox, through the real webhook path."""

import hashlib
import json
import uuid

from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.contacts.models import Contact
from apps.contacts.phones import normalize_phone
from apps.conversations.models import Message
from apps.conversations.selectors import conversations_visible_to, outbound_messages_visible_to
from apps.inboxes.intake import webhook_receive
from apps.inboxes.models import Inbox, WebhookEvent
from apps.inboxes.providers.base import DELIVERED, READ
from apps.inboxes.providers.sandbox import PHONE
from apps.inboxes.selectors import provider_for
from apps.web.auth import agent_required
from apps.web.forms import SandboxMessageForm

THREAD_SIZE = 50
PICKER_CONTACTS = 100
RECEIPT_BATCH = 50


def _sandbox_inbox(inbox_id) -> Inbox:
    return get_object_or_404(Inbox, pk=inbox_id, provider=Inbox.Provider.SANDBOX, is_active=True)


def _customer_phone(raw: str) -> str:
    """The phone as the sandbox provider accepts it; ValueError with a reason for the user."""
    phone = normalize_phone(raw, strict=False)
    if not PHONE.match(phone):
        raise ValueError(_("Enter the phone as + and 8 to 15 digits, e.g. +5511987654321."))
    return phone


def _chat_url(inbox: Inbox, phone: str, name: str) -> str:
    return f"{reverse('web:sandbox')}?{urlencode({'inbox': inbox.pk, 'phone': phone, 'name': name})}"


def _receive(inbox: Inbox, data: dict) -> None:
    """Through the webhook path a real provider takes: checked by the provider as the hook would,
    stored, then processed by a worker. Raises ValueError when the provider refuses the body."""
    body = json.dumps(data).encode()
    provider_for(inbox).parse_webhook(body=body, content_type="application/json")
    webhook_receive(inbox=inbox, body=body, content_type="application/json")


# --- the page -------------------------------------------------------------------------------------

@agent_required
@require_GET
def sandbox_view(request):
    inboxes = list(Inbox.objects.filter(provider=Inbox.Provider.SANDBOX, is_active=True))
    contacts = (
        Contact.objects.order_by(F("last_contact_at").desc(nulls_last=True), "-id")
        .only("id", "name", "phone")[:PICKER_CONTACTS]
    )
    chosen = {
        "inbox": request.GET.get("inbox", ""),
        "contact": request.GET.get("contact", ""),
        "phone": request.GET.get("phone", "").strip(),
        "name": request.GET.get("name", "").strip()[:200],
    }
    errors, inbox, phone = {}, None, ""
    if request.GET.get("inbox"):
        inbox = next((i for i in inboxes if str(i.pk) == chosen["inbox"]), None)
        if inbox is None:
            errors["inbox"] = _("Choose an active sandbox inbox.")
        raw = chosen["phone"] or chosen["contact"]
        if not raw:
            errors["phone"] = _("Choose a contact or type a phone number.")
        else:
            try:
                phone = _customer_phone(raw)
            except ValueError as exc:
                errors["phone"] = str(exc)
    chatting = inbox is not None and phone and not errors
    context = {
        "section": "sandbox",
        "inboxes": inboxes,
        "contacts": contacts,
        "chosen": chosen,
        "errors": errors,
        "form": SandboxMessageForm(),
    }
    if chatting:
        contact = Contact.objects.filter(phone=phone).only("id", "name").first()
        name = chosen["name"] or (contact.name if contact else "")
        context.update({"inbox": inbox, "phone": phone, "name": name, **_thread(request.user, inbox, phone)})
    elif len(inboxes) == 1 and not chosen["inbox"]:
        chosen["inbox"] = str(inboxes[0].pk)
    return render(request, "web/sandbox.html", context, status=422 if errors else 200)


# --- the conversation as the customer sees it -------------------------------------------------------

def _thread(user, inbox: Inbox, phone: str) -> dict:
    """The last messages between this customer and the inbox in conversations the user may see,
    oldest first, plus what they sent that a worker has not processed yet; and a version that
    changes whenever any of it does."""
    contact = Contact.objects.filter(phone=phone).only("id").first()
    messages = []
    if contact is not None:
        conversations = conversations_visible_to(user).filter(contact_id=contact.pk, inbox=inbox).values("id")
        # Files (images the agents sent, shown as the customer would see them) are served by
        # web:media, which asks media_visible_to again: the same rule as the agents' own pages.
        messages = list(
            Message.objects.filter(conversation_id__in=conversations, deleted_at__isnull=True)
            .select_related("media")
            .only("id", "direction", "kind", "text", "status", "created_at", "provider_message_id",
                  "media_filename", "template_name", "media__id", "media__status", "media__kind",
                  "media__filename", "media__thumbnail_name")
            .order_by("-created_at", "-id")[:THREAD_SIZE]
        )[::-1]
    shown = {m.provider_message_id for m in messages if m.direction == Message.Direction.INBOUND}
    waiting = []
    # Pending events are few (workers drain them in milliseconds): a small bounded look is cheap.
    for event in WebhookEvent.objects.filter(inbox=inbox, status=WebhookEvent.Status.PENDING).only(
        "id", "body", "received_at",
    ).order_by("-id")[:THREAD_SIZE]:
        try:
            data = json.loads(bytes(event.body))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("from") == phone and data.get("id") not in shown:
            waiting.append({"id": data.get("id", ""), "text": data.get("text", ""), "at": event.received_at})
    waiting.reverse()
    signature = repr([(m.pk, m.status, m.media.status if m.media else "") for m in messages]
                     + [w["id"] for w in waiting])
    return {
        "messages": messages,
        "waiting": waiting,
        "version": hashlib.sha1(signature.encode(), usedforsecurity=False).hexdigest()[:16],
    }


def _thread_response(request, inbox: Inbox, phone: str, *, unless_version: str = "") -> HttpResponse:
    context = {"inbox": inbox, "phone": phone, **_thread(request.user, inbox, phone)}
    if unless_version and unless_version == context["version"]:
        return HttpResponse(status=204)
    return render(request, "web/partials/sandbox_thread.html", context)


@agent_required
@require_GET
def thread_view(request, inbox_id: int):
    """Polled every second by the page: answers 204 (nothing to swap) while nothing changed."""
    inbox = _sandbox_inbox(inbox_id)
    try:
        phone = _customer_phone(request.GET.get("phone", ""))
    except ValueError as exc:
        raise Http404 from exc
    return _thread_response(request, inbox, phone, unless_version=request.GET.get("v", ""))


@agent_required
@require_POST
def send_view(request, inbox_id: int):
    inbox = _sandbox_inbox(inbox_id)
    name = request.POST.get("name", "").strip()[:200]
    try:
        phone = _customer_phone(request.POST.get("phone", ""))
    except ValueError as exc:
        return _send_error(request, str(exc))
    form = SandboxMessageForm(request.POST)
    if not form.is_valid():
        return _send_error(request, " ".join(form.errors.get("text", [])) or _("Type a message."))
    # Our own id in the body: a retried event is stored once, and the page can show it as waiting.
    data = {
        "from": phone, "name": name, "text": form.cleaned_data["text"], "id": f"sbx_in_{uuid.uuid4().hex}",
    }
    try:
        _receive(inbox, data)
    except ValueError as exc:
        return _send_error(request, str(exc))
    if request.htmx:
        return _thread_response(request, inbox, phone)
    return redirect(_chat_url(inbox, phone, name))


def _send_error(request, message: str) -> HttpResponse:
    if request.htmx:
        # htmx swaps nothing on an error status: a 200 retargeted at the form's error line instead.
        response = render(request, "web/partials/sandbox_error.html", {"message": message})
        response["HX-Retarget"] = "#sandbox-send-error"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, "web/partials/sandbox_error.html", {"message": message}, status=422)


@agent_required
@require_POST
def receipts_view(request, inbox_id: int):
    """The customer's phone acknowledging the company's messages: `status` (delivered or read) for
    the message ids in `id`, each sent as a sandbox status webhook. Statuses already reached are
    skipped here; the status processing would ignore them anyway (never backwards)."""
    inbox = _sandbox_inbox(inbox_id)
    status = request.POST.get("status", "")
    if status not in (DELIVERED, READ):
        return HttpResponse(status=422)
    ids = [int(value) for value in request.POST.getlist("id")[:RECEIPT_BATCH] if value.isdigit()]
    rank = Message.STATUS_RANK[status]
    reached = [state for state, position in Message.STATUS_RANK.items() if position >= rank]
    provider_ids = (
        outbound_messages_visible_to(request.user, inbox_id=inbox.pk).filter(pk__in=ids)
        .exclude(provider_message_id="").exclude(status__in=reached)
        .values_list("provider_message_id", flat=True)
    )
    for provider_message_id in provider_ids:
        try:
            _receive(inbox, {"status": status, "id": provider_message_id})
        except ValueError:
            continue  # an id the provider would not take: nothing for this phone to acknowledge
    return HttpResponse(status=204)
