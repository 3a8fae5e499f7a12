"""ASGI entry point: Django for HTTP (provider webhooks first tried by a fast path), the realtime
consumer for websockets."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for source_root in (ROOT, ROOT / "platform"):
    if str(source_root) not in sys.path:
        sys.path.insert(0, str(source_root))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

from conversa.asgi_handler import SyncChainASGIHandler  # noqa: E402

django_asgi_app = SyncChainASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.inboxes.fast_webhooks import WebhookFastPath  # noqa: E402
from conversa.realtime.routing import websocket_urlpatterns  # noqa: E402
from conversa.realtime.tenancy import TenantFromHostMiddleware  # noqa: E402

application = ProtocolTypeRouter({
    "http": WebhookFastPath(django_asgi_app) if settings.WEBHOOK_FAST_PATH else django_asgi_app,
    "websocket": TenantFromHostMiddleware(URLRouter(websocket_urlpatterns)),
})
