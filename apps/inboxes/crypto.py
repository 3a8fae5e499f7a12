"""Provider credentials encrypted at rest (conversa.crypto's keys; several allow rotation)."""

import json

from conversa.crypto import decrypt_text, encrypt_text, reset_cache, rotate

__all__ = ["decrypt_json", "encrypt_json", "reset_cache", "rotate"]


def encrypt_json(data: dict) -> str:
    return encrypt_text(json.dumps(data, sort_keys=True))


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(decrypt_text(token))
    except ValueError as exc:
        raise ValueError("credentials cannot be decrypted with the configured keys") from exc
