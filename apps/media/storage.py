"""Where media bytes live: a per-company prefix of the default storage, and signed URLs to them.

Local filesystem by default; S3-compatible through django-storages when STORAGES says so. Names are
random (the file's key), never what the user called the file.
"""

import hashlib
import hmac
import time

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone


def storage_name(key, variant: str = "original") -> str:
    now = timezone.now()
    return f"tenants/{connection.schema_name}/media/{now:%Y/%m}/{key}/{variant}"


def save(name: str, content) -> str:
    if isinstance(content, bytes):
        content = ContentFile(content)
    elif not isinstance(content, File):
        content = File(content)
    return default_storage.save(name, content)


def open_file(name: str):
    return default_storage.open(name, "rb")


def delete(name: str) -> None:
    if name and default_storage.exists(name):
        default_storage.delete(name)


def _signature(schema_name: str, key: str, variant: str, expires: int) -> str:
    message = f"{schema_name}:{key}:{variant}:{expires}".encode()
    secret = hashlib.sha256(f"conversa-media:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_path(key, variant: str = "original", *, ttl: int | None = None) -> str:
    """A path on the company's host that serves the file without a login until it expires."""
    expires = int(time.time()) + (ttl or settings.MEDIA_URL_TTL_SECONDS)
    signature = _signature(connection.schema_name, str(key), variant, expires)
    return f"/media/{key}/{variant}?expires={expires}&signature={signature}"


def signature_valid(key: str, variant: str, expires: str, signature: str) -> bool:
    """Bound to the company of the host it is used on: another company's host never matches."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at < time.time():
        return False
    expected = _signature(connection.schema_name, key, variant, expires_at)
    return hmac.compare_digest(expected, signature or "")
