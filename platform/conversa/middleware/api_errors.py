"""Every error under the JSON APIs gets the SPEC §13 body, whoever produced it.

django-ninja renders its own errors through our handlers; this catches the rest: unknown routes,
the tenant middleware's 404 for unknown hosts, wrong methods, CSRF or body-size refusals, and
exceptions raised outside a view. It also refuses NUL characters in any string a client sends
(path, query, JSON body): PostgreSQL cannot store them in text and would answer with a 500.
"""

import json
import re

from django.http import Http404
from django.utils.translation import gettext as _

from conversa.errors import (
    DomainError,
    ValidationFailed,
    client_error_response,
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

NUL = "\x00"
# In JSON a NUL can only be written as the escape \u0000, and it is one only when its backslash is
# not itself escaped: an even run of backslashes (or none) before it, e.g. not "\\u0000".
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _first_nul(value, path: tuple = ()) -> tuple | None:
    """The path of the first string (or key) holding a NUL in parsed JSON, or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = (path + (key,)) if NUL in key else _first_nul(item, path + (key,))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_nul(item, path + (index,))
            if found is not None:
                return found
    return None


def _nul_refusal(field: str) -> ValidationFailed:
    return ValidationFailed(details=[{
        "field": field, "message": _("Text must not contain the NUL character (\\u0000)."),
    }])


def check_no_nul(request) -> None:
    """Refuse a NUL in the path, the query or a JSON/form body with a 422 naming the field.

    Multipart bodies are left alone: reading them here would bypass the upload handlers that a
    view installs to limit and stream files.
    """
    if NUL in request.path:
        raise _nul_refusal("path")
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            raise _nul_refusal(key.replace(NUL, ""))
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        return
    if content_type == "application/x-www-form-urlencoded":
        for key, values in request.POST.lists():
            if NUL in key or any(NUL in value for value in values):
                raise _nul_refusal(key.replace(NUL, ""))
        return
    body = request.body  # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig: 413)
    if b"\x00" not in body and not _JSON_NUL.search(body):
        return
    try:
        found = _first_nul(json.loads(body))
    except ValueError:
        found = None
    raise _nul_refusal(".".join(str(part) for part in found) if found else "__all__")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_path(request.path):
            return self.get_response(request)
        try:
            check_no_nul(request)
            response = self.get_response(request)
        except Http404:
            return error_response(404, "not_found", _("Not found."))
        except DomainError as exc:
            return domain_error_response(exc)
        except Exception as exc:  # the last line of defence: never an HTML page on the API
            return client_error_response(exc) or internal_error_response(exc)
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
        return client_error_response(exc) or internal_error_response(exc)

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
