"""Optional TOTP (RFC 6238) for super-admins: enrol, confirm, verify once per time step, remove;
single-use backup codes. The secret is encrypted at rest, backup codes are kept as keyed hashes."""

import time

from django.db import transaction
from django.utils import timezone

from conversa import totp as otp
from conversa.crypto import decrypt_text, encrypt_text
from tenants.models import SuperAdminBackupCode, SuperAdminTotp

ISSUER = "Conversa console"


def totp_for(user_id: int) -> SuperAdminTotp | None:
    return SuperAdminTotp.objects.filter(user_id=user_id).first()


def totp_is_on(user_id: int) -> bool:
    return SuperAdminTotp.objects.filter(user_id=user_id, confirmed_at__isnull=False).exists()


def secret_of(device: SuperAdminTotp) -> str:
    return decrypt_text(device.secret)


def provisioning_uri(device: SuperAdminTotp, email: str) -> str:
    return otp.provisioning_uri(secret_of(device), email=email, issuer=ISSUER)


def totp_enrol_start(*, user) -> SuperAdminTotp:
    """A new, unconfirmed secret (replacing an unconfirmed one); sign-in is unchanged until confirmed."""
    with transaction.atomic():
        device = SuperAdminTotp.objects.select_for_update().filter(user_id=user.pk).first()
        if device is not None and device.confirmed_at is not None:
            return device
        if device is None:
            device = SuperAdminTotp(user_id=user.pk)
        device.secret = encrypt_text(otp.new_secret())
        device.last_used_step = 0
        device.save()
    return device


def _use_backup_code(user_id: int, code: str) -> bool:
    return bool(SuperAdminBackupCode.objects.filter(
        user_id=user_id, code_hash=otp.hash_backup_code(code), used_at__isnull=True,
    ).update(used_at=timezone.now()))


def totp_check(*, user_id: int, code: str, confirming: bool = False) -> bool:
    """True once per time step for a right code: a code seen over a shoulder cannot be replayed.
    Once confirmed, an unused backup code is accepted too (and used up).

    Locks the device row, so two requests with the same code cannot both pass.
    """
    with transaction.atomic():
        device = SuperAdminTotp.objects.select_for_update().filter(user_id=user_id).first()
        if device is None or (device.confirmed_at is None) != confirming:
            return False
        if not otp.looks_like_totp(code):
            return not confirming and _use_backup_code(user_id, code)
        step = otp.matching_step(secret_of(device), code, time.time())
        if step is None or step <= device.last_used_step:
            return False
        device.last_used_step = step
        if confirming:
            device.confirmed_at = timezone.now()
        device.save(update_fields=["last_used_step", "confirmed_at"])
    return True


def backup_codes_issue(*, user) -> list[str]:
    """Ten new backup codes replacing the old ones; the codes are returned here once."""
    codes = otp.new_backup_codes()
    with transaction.atomic():
        SuperAdminBackupCode.objects.filter(user_id=user.pk).delete()
        SuperAdminBackupCode.objects.bulk_create(
            SuperAdminBackupCode(user_id=user.pk, code_hash=otp.hash_backup_code(code)) for code in codes
        )
    return codes


def totp_remove(*, user) -> None:
    SuperAdminTotp.objects.filter(user_id=user.pk).delete()
    SuperAdminBackupCode.objects.filter(user_id=user.pk).delete()
