"""The signature receivers check: `X-Conversa-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`.

The timestamp is inside what is signed, so a receiver that refuses old timestamps also refuses a
captured request replayed later.
"""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
