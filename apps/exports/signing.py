"""Signed, short-lived download links of exports, bound to the company whose host serves them."""

import hashlib
import hmac
import time

from django.conf import settings
from django.db import connection


def _signature(schema_name: str, key: str, expires: int) -> str:
    secret = hashlib.sha256(f"conversa-exports:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(secret, f"{schema_name}:{key}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_path(key) -> str:
    """A path on this company's host that serves the export without a login until it expires."""
    expires = int(time.time()) + settings.EXPORT_URL_TTL_SECONDS
    signature = _signature(connection.schema_name, str(key), expires)
    return f"/exports/{key}/download?expires={expires}&signature={signature}"


def signature_valid(key: str, expires, signature) -> bool:
    """The schema is part of what is signed: on another company's host the link never matches."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at < time.time():
        return False
    return hmac.compare_digest(_signature(connection.schema_name, str(key), expires_at), str(signature or ""))
