"""Settings → Webhooks (admins): endpoints with their health, the secret shown once, events,
enabling and disabling, a test send, and each endpoint's delivery log with redelivery."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.web.auth import action_required
from apps.web.forms import ServiceForm
from apps.webhooks import selectors, services
from apps.webhooks.models import Delivery
from apps.webhooks.payloads import EVENTS
from conversa.errors import DomainError

LOG_SIZE = 50


class WebhookForm(ServiceForm):
    url = forms.CharField(label=gettext_lazy("URL"), max_length=500,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/conversa"}))
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"), choices=[(name, name) for name in EVENTS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one event.")},
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)


def _page(request, template: str, context: dict, status: int = 200):
    return render(request, template, {"section": "settings", "tab": "webhooks", **context}, status=status)


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@action_required("webhooks.manage")
def webhooks_view(request):
    in_plan = request.tenant.plan.has_feature("webhooks")
    form = WebhookForm(request.POST or None)
    status = 200
    if request.method == "POST" and in_plan:
        if form.is_valid():
            try:
                endpoint, secret = services.endpoint_create(actor=request.user, request=request,
                                                            **form.cleaned_data)
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                # In the answer to the POST only, never stored: reloading cannot show it again.
                return _no_store(_page(request, "web/settings/webhook_created.html",
                                       {"endpoint": endpoint, "secret": secret}, status=201))
        else:
            status = 422
    return _page(request, "web/settings/webhooks.html", {
        "form": form, "in_plan": in_plan,
        "endpoints": selectors.endpoints_for(request.user) if in_plan else [],
    }, status=status)


@action_required("webhooks.manage")
def webhook_view(request, webhook_id: int):
    endpoint = selectors.endpoint_get_for(request.user, webhook_id)
    form = WebhookForm(request.POST or None, initial={
        "url": endpoint.url, "events": endpoint.events, "description": endpoint.description})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.endpoint_update(actor=request.user, endpoint=endpoint, request=request,
                                         **form.cleaned_data)
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Webhook saved."))
                return redirect("web:settings-webhook", webhook_id=endpoint.pk)
        else:
            status = 422
    wanted = request.GET.get("status") or ""
    log = selectors.deliveries_of(request.user, endpoint.pk,
                                  status=wanted if wanted in Delivery.Status.values else None)
    return _page(request, "web/settings/webhook.html", {
        "endpoint": endpoint, "form": form, "deliveries": log[:LOG_SIZE], "wanted": wanted,
        "statuses": Delivery.Status.choices,
    }, status=status)


@action_required("webhooks.manage")
@require_POST
def webhook_action_view(request, webhook_id: int, action: str):
    endpoint = selectors.endpoint_get_for(request.user, webhook_id)
    try:
        if action == "test":
            delivery = services.endpoint_test(actor=request.user, endpoint=endpoint)
            if delivery.status == Delivery.Status.SUCCEEDED:
                messages.success(request, _("Test event delivered (HTTP %(code)s).")
                                 % {"code": delivery.response_code})
            else:
                messages.error(request, _("Test event failed: %(error)s") % {"error": delivery.error})
        elif action in ("enable", "disable"):
            services.endpoint_update(actor=request.user, endpoint=endpoint, active=action == "enable",
                                     request=request)
            messages.success(request, _("Webhook enabled.") if action == "enable" else _("Webhook disabled."))
        elif action == "rotate":
            _endpoint, secret = services.endpoint_update(actor=request.user, endpoint=endpoint,
                                                         rotate_secret=True, request=request)
            return _no_store(_page(request, "web/settings/webhook_created.html",
                                   {"endpoint": endpoint, "secret": secret, "rotated": True}))
        elif action == "delete":
            services.endpoint_delete(actor=request.user, endpoint=endpoint, request=request)
            messages.success(request, _("Webhook deleted."))
            return redirect("web:settings-webhooks")
        else:
            return redirect("web:settings-webhook", webhook_id=endpoint.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("web:settings-webhook", webhook_id=endpoint.pk)


@action_required("webhooks.manage")
@require_POST
def delivery_redeliver_view(request, webhook_id: int, delivery_id: int):
    delivery = selectors.delivery_get_for(request.user, webhook_id, delivery_id)
    try:
        services.delivery_redeliver(actor=request.user, delivery=delivery)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Delivery queued again."))
    return redirect("web:settings-webhook", webhook_id=webhook_id)
