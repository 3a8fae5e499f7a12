"""The per-user and per-API-key rate limits of SPEC §13, in one place for every door.

Every tenant API request counts against the caller's `general` budget; sends, uploads and exports
against their own as well, on the API and the agents' UI alike. Budgets live in Redis (shared by
every web process) and refill continuously (conversa.ratelimit.take): `limit` requests may come at
once, the next one is refused with 429 and `Retry-After`. The first refusal of an actor in a
window is written to the audit log (not every one: a runaway script would flood it).

Unauthenticated requests are not counted here: the API answers them 401, and login has its own
per-IP and per-account throttles (apps.accounts.throttling). The plan's API rate for keys stays in
the plan middleware.
"""

import math
import re

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja_jwt.settings import api_settings

from apps.accounts.api_keys import api_key_from_request, raw_key_from_request
from apps.accounts.models import ApiKey, User
from apps.accounts.tokens import verified_access_token
from apps.audit.services import audit_record
from conversa import ratelimit
from conversa.errors import RateLimited, domain_error_response
from conversa.middleware.api_errors import is_api_path
from conversa.redis import get_redis, redis_key

# (method, path) → the budget besides `general`. API and UI doors of one action share it.
ROUTES = (
    ("POST", re.compile(r"^/api/v1/conversations/\d+/messages$"), "sends"),
    ("POST", re.compile(r"^/api/v1/conversations$"), "sends"),  # agent-started: sends a template
    ("POST", re.compile(r"^/app/c/\d+/(send|template)/$"), "sends"),
    ("POST", re.compile(r"^/app/new/$"), "sends"),
    ("POST", re.compile(r"^/api/v1/media$"), "uploads"),
    ("POST", re.compile(r"^/api/v1/exports$"), "exports"),
    ("POST", re.compile(r"^/app/exports/$"), "exports"),
)
WINDOW_SECONDS = 60


def bucket_for(method: str, path: str) -> str | None:
    for route_method, pattern, bucket in ROUTES:
        if method == route_method and pattern.match(path):
            return bucket
    return None


def _api_principal(request) -> tuple[str, int] | None:
    """("key", id) or ("user", id) of the credentials an API request carries, without a query for
    a user: the access token's signature, expiry and company are checked, the rest is the API's."""
    if raw_key_from_request(request):
        key = api_key_from_request(request)  # cached: the plan middleware looked it up already
        return ("key", key.pk) if key else None
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    token = verified_access_token(raw.strip(), request)
    return ("user", token.get(api_settings.USER_ID_CLAIM)) if token is not None else None


def _ui_principal(request) -> tuple[str, int] | None:
    user = getattr(request, "user", None)
    return ("user", user.pk) if user is not None and user.is_authenticated else None


def check_limits(request) -> None:
    """Take one request from each budget this request spends; RateLimited past any of them."""
    api = is_api_path(request.path)
    principal = _api_principal(request) if api else _ui_principal(request)
    if principal is None:
        return
    buckets = ["general"] if api else []
    specific = bucket_for(request.method, request.path)
    if specific:
        buckets.append(specific)
    kind, principal_id = principal
    schema = connection.schema_name
    for bucket in buckets:
        limit = settings.RATE_LIMITS_PER_MINUTE[bucket]
        wait = ratelimit.take(f"{schema}:{bucket}:{kind}:{principal_id}", limit=limit, window=WINDOW_SECONDS)
        if wait:
            _audit_once_per_window(request, bucket=bucket, limit=limit, kind=kind, principal_id=principal_id)
            raise RateLimited(_("Too many requests. Try again later."), retry_after=math.ceil(wait),
                              details=[{"field": "limit", "message": f"{bucket}: {limit}/min"}])


def _audit_once_per_window(request, *, bucket: str, limit: int, kind: str, principal_id: int) -> None:
    """An admin sees who keeps hitting a limit: one entry per actor and budget per window."""
    schema = connection.schema_name
    marker = redis_key("rl-audit", schema, bucket, kind, principal_id)
    if not get_redis().set(marker, 1, nx=True, ex=WINDOW_SECONDS):
        return
    actor = (ApiKey if kind == "key" else User).objects.filter(pk=principal_id).first()
    audit_record(action="rate_limit.exceeded", entity_type="api_key" if kind == "key" else "user",
                 entity_id=principal_id, actor=actor, request=request, success=False,
                 changes={"limit": bucket, "per_minute": limit, "path": request.path[:200]})


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(request, "tenant", None) is None or connection.schema_name == "public":
            return self.get_response(request)
        try:
            check_limits(request)
        except RateLimited as exc:
            if is_api_path(request.path):
                return domain_error_response(exc)
            response = HttpResponse(exc.message, status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(exc.retry_after)
            return response
        return self.get_response(request)
