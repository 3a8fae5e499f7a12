"""TOTP (RFC 6238) and backup codes, shared by company users and the console's super-admins.

Secrets are stored encrypted (conversa.crypto); backup codes are stored as keyed hashes only.
"""

import hashlib
import hmac
import secrets

import pyotp
from django.conf import settings

DRIFT_STEPS = 1  # a code of the previous or next 30 s step is accepted: clocks drift
BACKUP_CODE_COUNT = 10
# 10 characters of a 31-letter alphabet (about 50 bits), shown as "xxxxx-xxxxx".
# Lower-case letters without i, l, o and digits without 0, 1: nothing to misread.
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def looks_like_totp(code: str) -> bool:
    code = code.strip().replace(" ", "")
    return len(code) == 6 and code.isdigit()


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within ±DRIFT_STEPS of `now`) whose code is `code`, or None.

    Callers accept a step only if it is later than the last one used, so a code cannot be replayed.
    """
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    for drift in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            return int(moment // totp.interval)
    return None


def new_backup_codes(count: int = BACKUP_CODE_COUNT) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def hash_backup_code(code: str) -> str:
    """A keyed hash of the code as typed (case, spaces and dashes ignored).

    Keyed with the server's secret: a leaked table alone does not let anyone try the 2^50 codes
    offline; a fast hash lets login find the code by its hash instead of trying each one.
    """
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    key = hashlib.sha256(f"conversa-backup-codes:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()
