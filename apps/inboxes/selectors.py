"""Reads about inboxes: provider clients and the webhook URLs providers call."""

from functools import lru_cache

import httpx
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.inboxes.models import Inbox
from apps.inboxes.providers import get_provider
from apps.inboxes.providers.base import Provider
from conversa.errors import NotFound
from tenants.models import Domain

WEBHOOK_PATHS = {
    Inbox.Provider.WHATSAPP_CLOUD: "whatsapp",
    Inbox.Provider.TWILIO: "twilio",
    Inbox.Provider.SANDBOX: "sandbox",
}


def tenant_base_url() -> str:
    domain = Domain.objects.filter(tenant__schema_name=connection.schema_name, is_primary=True).first()
    host = domain.domain if domain else settings.BASE_DOMAIN
    return f"{settings.PUBLIC_SCHEME}://{host}"


def webhook_url(inbox: Inbox, request=None) -> str:
    """The URL the provider must call and sign. Shown to an admin (`request`: theirs), it is exactly
    what the hook's verification rebuilds (`request.build_absolute_uri()`) for a provider calling the
    host the admin is on, port included; without a request, the primary domain's."""
    path = f"/hooks/{WEBHOOK_PATHS[inbox.provider]}/{inbox.pk}"
    if request is not None:
        return request.build_absolute_uri(path)
    return f"{tenant_base_url()}{path}"


def provider_credentials(inbox: Inbox, *, send_key: str = "") -> dict:
    credentials = inbox.credentials
    if inbox.provider == Inbox.Provider.SANDBOX:
        credentials["sandbox_token"] = inbox.sandbox_token
    if inbox.provider == Inbox.Provider.TWILIO and send_key:
        # Twilio echoes nothing of ours in status callbacks but the URL it calls.
        credentials["webhook_url"] = f"{webhook_url(inbox)}?send_key={send_key}"
    return credentials


@lru_cache(maxsize=1)
def shared_http() -> httpx.Client:
    """One pooled HTTP client per process: keep-alive to the providers, closed at exit."""
    return httpx.Client(
        timeout=httpx.Timeout(10.0, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


def provider_for(inbox: Inbox, *, send_key: str = "") -> Provider:
    return get_provider(inbox.provider, provider_credentials(inbox, send_key=send_key), http=shared_http())


def inboxes_visible_to(actor: Actor) -> QuerySet[Inbox]:
    """Every user and any key with `conversations:read` sees the company's inboxes (not their secrets)."""
    permissions.check(actor, "inboxes.read")
    return Inbox.objects.all()


def inbox_get_for(actor: Actor, inbox_id: int) -> Inbox:
    inbox = inboxes_visible_to(actor).filter(pk=inbox_id).first()
    if inbox is None:
        raise NotFound()
    return inbox


def may_see_connection_secrets(actor: Actor) -> bool:
    """Webhook URL, verify and sandbox tokens: for whoever may manage inboxes."""
    return permissions.may(actor, "inboxes.manage")
