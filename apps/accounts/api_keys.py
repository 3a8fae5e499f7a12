"""API keys: `cv_live_<prefix>_<secret>`, found by prefix in the current schema, secret hashed."""

import hashlib
import hmac
import secrets

from django.db import connection
from django.utils import timezone

from apps.accounts.models import ApiKey
from conversa import ratelimit
from conversa.redis import get_redis, redis_key
from tenants.limits import ensure_feature

KEY_MARK = "cv_live_"
_UNSET = object()


def generate_key() -> tuple[str, str, str]:
    """A new (prefix, secret, full key)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return prefix, secret, f"{KEY_MARK}{prefix}_{secret}"


def hash_secret(secret: str) -> str:
    # The secret has 256 bits of entropy: a plain SHA-256 cannot be brute-forced, and it is fast
    # enough to verify on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    if not raw.startswith(KEY_MARK):
        return None
    prefix, _, secret = raw[len(KEY_MARK):].partition("_")
    if not prefix or not secret:
        return None
    return prefix, secret


def raw_key_from_request(request) -> str | None:
    raw = request.headers.get("X-Api-Key")
    if raw:
        return raw.strip()
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip().startswith(KEY_MARK):
        return credentials.strip()
    return None


def api_key_lookup(raw: str) -> ApiKey | None:
    parts = split_key(raw)
    if parts is None:
        return None
    prefix, secret = parts
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    return key if key.is_usable() else None


def api_key_from_request(request) -> ApiKey | None:
    """The valid key the request carries in this schema (looked up once per request)."""
    cached = getattr(request, "_api_key", _UNSET)
    if cached is not _UNSET:
        return cached
    raw = raw_key_from_request(request)
    request._api_key = api_key_lookup(raw) if raw else None
    return request._api_key


def enforce_api_key_plan(request, company) -> None:
    """A request carrying a key needs a plan with API access and stays within its rate."""
    if raw_key_from_request(request) is None:
        return
    ensure_feature(company, "api_access")
    key = api_key_from_request(request)
    if key is None:
        return  # the API's authentication answers 401
    per_minute = company.plan.api_requests_per_minute
    if per_minute is not None:
        ratelimit.hit(f"{connection.schema_name}:apikey:{key.pk}", limit=per_minute, window=60)
    record_use(key)


def record_use(key: ApiKey) -> None:
    """Record `last_used_at` at most once a minute per key, off the request path."""
    from apps.accounts.tasks import api_key_touch

    schema = connection.schema_name
    if get_redis().set(redis_key("apikey-touch", schema, key.pk), 1, nx=True, ex=60):
        api_key_touch(schema, key.pk, timezone.now().isoformat())
