"""Provider clients by name, as stored on an inbox (`Inbox.provider`)."""

from collections.abc import Mapping

import httpx

from apps.inboxes.providers.base import Provider
from apps.inboxes.providers.sandbox import SandboxProvider
from apps.inboxes.providers.twilio import TwilioProvider
from apps.inboxes.providers.whatsapp_cloud import WhatsAppCloudProvider

PROVIDERS: dict[str, type[Provider]] = {
    "whatsapp_cloud": WhatsAppCloudProvider,
    "twilio": TwilioProvider,
    "sandbox": SandboxProvider,
}


def get_provider(name: str, credentials: Mapping, http: httpx.Client | None = None) -> Provider:
    """A client for one inbox. ValueError for an unknown provider or missing credentials."""
    try:
        provider = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}") from None
    return provider(credentials, http=http)
