"""Provider webhooks on the tenant host: verify the signature, store the body, answer at once."""

import json

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.inboxes.models import Inbox
from apps.inboxes.selectors import provider_for
from apps.inboxes.services import webhook_receive
from conversa.errors import error_response


def _inbox(inbox_id: int, provider: str) -> Inbox | None:
    return Inbox.objects.filter(pk=inbox_id, provider=provider, is_active=True).first()


def _not_found():
    return error_response(404, "not_found", _("No such inbox."))


def _forbidden():
    return error_response(403, "invalid_signature", _("The webhook signature is invalid."))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request, inbox_id: int):
    inbox = _inbox(inbox_id, Inbox.Provider.WHATSAPP_CLOUD)
    if inbox is None:
        return _not_found()
    provider = provider_for(inbox)
    if request.method == "GET":
        challenge = provider.verify_subscription(request.GET)
        if challenge is None:
            return HttpResponseForbidden(_("Verification failed."), content_type="text/plain")
        return HttpResponse(challenge, content_type="text/plain")
    body = request.body
    if not provider.verify_signature(body=body, headers=request.headers, url=request.build_absolute_uri()):
        return _forbidden()
    webhook_receive(inbox=inbox, body=body, content_type=request.content_type or "application/json")
    return JsonResponse({"status": "received"})


@csrf_exempt
@require_http_methods(["POST"])
def twilio_webhook(request, inbox_id: int):
    inbox = _inbox(inbox_id, Inbox.Provider.TWILIO)
    if inbox is None:
        return _not_found()
    provider = provider_for(inbox)
    form = {key: request.POST.get(key) for key in request.POST}
    if not provider.verify_signature(
        body=request.body, headers=request.headers, url=request.build_absolute_uri(), form=form
    ):
        return _forbidden()
    webhook_receive(
        inbox=inbox,
        body=request.body,
        content_type="application/x-www-form-urlencoded",
        send_key=request.GET.get("send_key", ""),
    )
    return HttpResponse("<Response/>", content_type="text/xml")


@csrf_exempt
@require_http_methods(["POST"])
def sandbox_webhook(request, inbox_id: int):
    """Play a customer: `{from, name?, text?, media_url?}` with the inbox's `X-Sandbox-Token`, or
    acknowledge a reply with `{status: "delivered"|"read", id}`."""
    inbox = _inbox(inbox_id, Inbox.Provider.SANDBOX)
    if inbox is None:
        return _not_found()
    provider = provider_for(inbox)
    if not provider.verify_signature(
        body=request.body, headers=request.headers, url=request.build_absolute_uri()
    ):
        return _forbidden()
    try:
        batch = provider.parse_webhook(body=request.body, content_type=request.content_type or "")
    except (ValueError, json.JSONDecodeError) as exc:
        # Refuse before storing: a sandbox caller is a person who can fix the request.
        return error_response(422, "validation_error", str(exc), [{"field": "from", "message": str(exc)}])
    if not batch.messages:  # a delivery/read receipt for one of our replies
        webhook_receive(inbox=inbox, body=request.body, content_type="application/json")
        return JsonResponse({"status": "received"}, status=202)
    message_id = batch.messages[0].provider_message_id
    # Store the id we answer with, so the worker's parse finds the same one (and retries dedupe).
    body = json.dumps({**json.loads(request.body), "id": message_id}).encode()
    webhook_receive(inbox=inbox, body=body, content_type="application/json")
    return JsonResponse({"status": "received", "id": message_id}, status=202)
