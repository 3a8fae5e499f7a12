"""The agents' UI speaks each user's own language, whatever the browser asks for, and shows times
in the company's time zone."""

import zoneinfo

from django.db import connection
from django.utils import timezone, translation

from apps.web.i18n import supported_language


class UserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.path.startswith("/app/"):
            language = supported_language(user.language)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


# The API, webhooks and metrics speak UTC (ISO 8601 with an offset) whatever the company's zone.
MACHINE_PATHS = ("/api/", "/hooks/", "/metrics", "/ws/")


class CompanyTimeZoneMiddleware:
    """Pages of a company's host (the agents' UI, the help centre, the CSAT page) show and read times
    in the company's time zone: "12:40" in the inbox is the agents' 12:40, not the server's UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        company = getattr(request, "tenant", None)
        if connection.schema_name == "public" or request.path.startswith(MACHINE_PATHS):
            return self.get_response(request)
        name = getattr(company, "time_zone", "")
        try:
            zone = zoneinfo.ZoneInfo(name) if name and name != "UTC" else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
