"""Optional TOTP (RFC 6238) for super-admins: enrol, confirm, verify once per time step, remove."""

import hmac
import time

import pyotp
from django.db import transaction
from django.utils import timezone

from tenants.models import SuperAdminTotp

ISSUER = "Conversa console"
DRIFT_STEPS = 1  # a code of the previous or next 30 s step is accepted: clocks drift


def totp_for(user_id: int) -> SuperAdminTotp | None:
    return SuperAdminTotp.objects.filter(user_id=user_id).first()


def totp_is_on(user_id: int) -> bool:
    return SuperAdminTotp.objects.filter(user_id=user_id, confirmed_at__isnull=False).exists()


def provisioning_uri(device: SuperAdminTotp, email: str) -> str:
    return pyotp.TOTP(device.secret).provisioning_uri(name=email, issuer_name=ISSUER)


def totp_enrol_start(*, user) -> SuperAdminTotp:
    """A new, unconfirmed secret (replacing an unconfirmed one); sign-in is unchanged until confirmed."""
    with transaction.atomic():
        device = SuperAdminTotp.objects.select_for_update().filter(user_id=user.pk).first()
        if device is not None and device.confirmed_at is not None:
            return device
        if device is None:
            device = SuperAdminTotp(user_id=user.pk)
        device.secret = pyotp.random_base32()
        device.last_used_step = 0
        device.save()
    return device


def _matching_step(secret: str, code: str, now: float) -> int | None:
    totp = pyotp.TOTP(secret)
    code = code.strip()
    for drift in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            return int(moment // totp.interval)
    return None


def totp_check(*, user_id: int, code: str, confirming: bool = False) -> bool:
    """True once per time step for a right code: a code seen over a shoulder cannot be replayed.

    Locks the device row, so two requests with the same code cannot both pass.
    """
    with transaction.atomic():
        device = SuperAdminTotp.objects.select_for_update().filter(user_id=user_id).first()
        if device is None or (device.confirmed_at is None) != confirming:
            return False
        step = _matching_step(device.secret, code, time.time())
        if step is None or step <= device.last_used_step:
            return False
        device.last_used_step = step
        if confirming:
            device.confirmed_at = timezone.now()
        device.save(update_fields=["last_used_step", "confirmed_at"])
    return True


def totp_remove(*, user) -> None:
    SuperAdminTotp.objects.filter(user_id=user.pk).delete()
