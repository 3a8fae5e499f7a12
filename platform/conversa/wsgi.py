"""WSGI entry point (HTTP only; realtime needs the ASGI application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")

application = get_wsgi_application()
