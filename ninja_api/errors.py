"""Exception handlers giving every ninja API error the SPEC §13 body."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from conversa.errors import (
    DomainError,
    client_error_response,
    domain_error_response,
    error_response,
    internal_error_response,
)

_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 429: "rate_limited"}
_CONTAINERS = {"body", "query", "path", "header", "cookie", "form", "file", "payload", "data"}


def _field(loc) -> str:
    parts = [str(part) for part in loc if str(part) not in _CONTAINERS]
    return ".".join(parts) or "__all__"


def validation_details(errors) -> list[dict]:
    return [{"field": _field(error.get("loc", ())), "message": error.get("msg", "")}
            for error in errors]


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc):
        return domain_error_response(exc)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc):
        return error_response(
            422, "validation_error", _("Some fields are invalid."), validation_details(exc.errors),
        )

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc):
        return error_response(401, "not_authenticated",
                              _("Authentication credentials were not provided or are invalid."))

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "bad_request"),
                              str(exc))

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return error_response(404, "not_found", _("Not found."))

    @api.exception_handler(Exception)
    def unhandled(request, exc):
        # A body Django could not read (too big, multipart without a boundary) is the client's.
        return client_error_response(exc) or internal_error_response(exc)
