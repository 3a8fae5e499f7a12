"""Domain errors and the one JSON error body of SPEC §13, shared by the APIs and middleware."""

import logging
import uuid

import sentry_sdk
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError
from django.http import JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("conversa.errors")


class DomainError(Exception):
    """An error a client caused or must handle; rendered as the SPEC §13 body."""

    status = 400
    code = "bad_request"
    default_message = _("The request could not be processed.")

    def __init__(self, message=None, *, details=None, headers=None):
        self.message = str(message or self.default_message)
        self.details = details if details is not None else []
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"
    default_message = _("Some fields are invalid.")


def full_clean(instance, **options) -> None:
    """`instance.full_clean(**options)`, its ValidationError as a 422 with one detail per message."""
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean(**options)
    except ValidationError as exc:
        raise ValidationFailed(details=[
            {"field": field, "message": str(message)}
            for field, messages in exc.message_dict.items() for message in messages
        ]) from exc


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    default_message = _("Authentication credentials were not provided.")


class TokenInvalid(DomainError):
    status = 401
    code = "token_invalid"
    default_message = _("The token is invalid or expired.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = _("You do not have permission to do this.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _("Not found.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _("This conflicts with existing data.")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = _("Too many requests. Try again later.")

    def __init__(self, message=None, *, retry_after: int, details=None):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, details=details, headers={"Retry-After": str(self.retry_after)})


def error_body(code: str, message: str, details=None, **extra) -> dict:
    return {"error": {"code": code, "message": str(message), "details": details or [], **extra}}


def error_response(status: int, code: str, message, details=None, headers=None, **extra):
    response = JsonResponse(error_body(code, message, details, **extra), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def domain_error_response(exc: DomainError):
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def client_error_response(exc: BaseException):
    """The §13 answer to an exception the client's input caused deep down, or None.

    Django raises its body errors lazily, wherever `request.body`, `POST` or `FILES` is first
    touched (a router, the API's NUL guard, a middleware). PostgreSQL's data exceptions (SQLSTATE
    class 22: a time zone offset beyond ±15:59, a number or text too large for its column) come
    from values a schema let through: a 422 tells the client, the warning tells us to validate
    earlier. Each handler of the APIs asks here before calling anything a 500.
    """
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "request_too_large", _("The request body is too large."))
    if isinstance(exc, MultiPartParserError | SuspiciousOperation | UnreadablePostError):
        return error_response(400, "bad_request", _("The request body could not be read."))
    if isinstance(exc, DataError):
        logger.warning("input the database refused: %s", exc)
        return error_response(
            422, "validation_error", _("A value is out of the range that can be stored."),
        )
    return None


def internal_error_response(exc: BaseException):
    """Report an unexpected exception; answer with an id that finds it in Sentry and the logs."""
    error_id = sentry_sdk.capture_exception(exc) or uuid.uuid4().hex
    logger.error("unhandled error %s", error_id, exc_info=exc)
    return error_response(
        500, "internal_error", _("Something went wrong on our side. We have been notified."),
        error_id=error_id,
    )
