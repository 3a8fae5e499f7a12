"""Secrets encrypted at rest with Fernet (FIELD_ENCRYPTION_KEYS, newest first: rotation)."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        # A key derived from SECRET_KEY keeps development simple; production sets its own keys so
        # rotating SECRET_KEY does not make every stored secret unreadable.
        digest = hashlib.sha256(f"conversa-credentials:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_text(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    """The plain text of `token`; ValueError when no configured key opens it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured keys") from exc


def is_encrypted(value: str) -> bool:
    """Whether `value` looks like a Fernet token (version byte 0x80 gives the prefix `gAAAAA`)."""
    return value.startswith("gAAAAA")


def rotate(token: str) -> str:
    """Re-encrypt `token` with the newest key."""
    return _fernet().rotate(token.encode()).decode()


def reset_cache() -> None:
    _fernet.cache_clear()
