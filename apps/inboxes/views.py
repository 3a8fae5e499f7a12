"""Provider webhooks on the tenant host: the Django door of apps.inboxes.intake."""

import json

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.inboxes import intake
from apps.inboxes.models import Inbox
from apps.inboxes.selectors import provider_for
from conversa.errors import error_response


def _refusal(refused: intake.Refused):
    return error_response(refused.status, refused.code, refused.message, refused.details)


def _answer(answer: intake.Answer) -> HttpResponse:
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)


def _receive(request, provider: str, inbox_id: int) -> HttpResponse:
    inbox = intake.active_inbox(inbox_id, provider)
    try:
        if inbox is None:
            raise intake.not_found()
        webhook = intake.webhook_from_request(request, provider, inbox_id)
        return _answer(intake.receive(inbox=inbox, webhook=webhook))
    except intake.Refused as refused:
        return _refusal(refused)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request, inbox_id: int):
    if request.method == "POST":
        return _receive(request, Inbox.Provider.WHATSAPP_CLOUD, inbox_id)
    inbox = intake.active_inbox(inbox_id, Inbox.Provider.WHATSAPP_CLOUD)
    if inbox is None:
        return _refusal(intake.not_found())
    challenge = provider_for(inbox).verify_subscription(request.GET)
    if challenge is None:
        return HttpResponseForbidden(_("Verification failed."), content_type="text/plain")
    return HttpResponse(challenge, content_type="text/plain")


@csrf_exempt
@require_http_methods(["POST"])
def twilio_webhook(request, inbox_id: int):
    return _receive(request, Inbox.Provider.TWILIO, inbox_id)


@csrf_exempt
@require_http_methods(["POST"])
def sandbox_webhook(request, inbox_id: int):
    """Play a customer: `{from, name?, text?, media_url?}` with the inbox's `X-Sandbox-Token`, or
    acknowledge a reply with `{status: "delivered"|"read", id}`."""
    inbox = intake.active_inbox(inbox_id, Inbox.Provider.SANDBOX)
    try:
        if inbox is None:
            raise intake.not_found()
        webhook = intake.webhook_from_request(request, Inbox.Provider.SANDBOX, inbox_id)
        batch = intake.check(provider_for(inbox), webhook)
    except intake.Refused as refused:
        return _refusal(refused)
    if not batch.messages:  # a delivery/read receipt for one of our replies
        intake.webhook_receive(inbox=inbox, body=request.body, content_type="application/json")
        return JsonResponse({"status": "received"}, status=202)
    message_id = batch.messages[0].provider_message_id
    # Store the id we answer with, so the worker's parse finds the same one (and retries dedupe).
    body = json.dumps({**json.loads(request.body), "id": message_id}).encode()
    intake.webhook_receive(inbox=inbox, body=body, content_type="application/json")
    return JsonResponse({"status": "received", "id": message_id}, status=202)
