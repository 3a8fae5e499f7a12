"""Host header validation in place of Django's ALLOWED_HOSTS (which is `*` for that reason).

Accepted: BASE_DOMAIN, its subdomains, EXTRA_ALLOWED_HOSTS and the custom domains companies added
(see tenants.hosts; the tenant middleware then serves only verified ones, 404 otherwise). Anything
else is refused with 400 before any other code reads the host, so a forged Host never reaches
password-reset links, redirects or absolute URLs.
"""

import logging

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _

from conversa.errors import error_response
from conversa.middleware.api_errors import is_api_path
from tenants.hosts import is_allowed_host

security_logger = logging.getLogger("django.security.DisallowedHost")


class HostValidationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The raw header: request.get_host() would accept anything under ALLOWED_HOSTS = ["*"].
        host = request.META.get("HTTP_X_FORWARDED_HOST") if _uses_forwarded_host() else None
        host = host or request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
        if not is_allowed_host(host):
            security_logger.warning("refused Host header %r", host[:255])
            if is_api_path(request.path):
                return error_response(400, "bad_request", _("Unknown host."))
            return HttpResponseBadRequest(_("Unknown host."), content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _uses_forwarded_host() -> bool:
    from django.conf import settings

    return settings.USE_X_FORWARDED_HOST
