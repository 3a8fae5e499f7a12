"""Every error under the JSON APIs gets the SPEC §13 body, whoever produced it.

django-ninja renders its own errors through our handlers; this catches the rest: unknown routes,
the tenant middleware's 404 for unknown hosts, wrong methods, CSRF or body-size refusals, and
exceptions raised outside a view.
"""

from django.http import Http404
from django.utils.translation import gettext as _

from conversa.errors import (
    DomainError,
    domain_error_response,
    error_response,
    internal_error_response,
)

API_PREFIXES = ("/api/", "/platform/api/")

_CODES = {
    400: "bad_request", 401: "not_authenticated", 402: "company_suspended", 403: "forbidden",
    404: "not_found", 405: "method_not_allowed", 409: "conflict", 413: "file_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_path(request.path):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Http404:
            return error_response(404, "not_found", _("Not found."))
        except DomainError as exc:
            return domain_error_response(exc)
        except Exception as exc:  # the last line of defence: never an HTML page on the API
            return internal_error_response(exc)
        if response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
            return self.as_json(response)
        return response

    def process_exception(self, request, exc):
        if not is_api_path(request.path):
            return None
        if isinstance(exc, Http404):
            return error_response(404, "not_found", _("Not found."))
        if isinstance(exc, DomainError):
            return domain_error_response(exc)
        return internal_error_response(exc)

    @staticmethod
    def as_json(response):
        status = response.status_code
        code = _CODES.get(status, "internal_error" if status >= 500 else "bad_request")
        messages = {
            404: _("Not found."),
            405: _("This method is not allowed here."),
            403: _("You do not have permission to do this."),
        }
        json_response = error_response(status, code, messages.get(status, response.reason_phrase))
        for header in ("Allow", "Retry-After"):
            if header in response:
                json_response[header] = response[header]
        return json_response
