"""Two-factor sign-in for company users: TOTP set-up and confirmation, backup codes, the check at
login, and the company's requirement that everyone use it.

A secret is encrypted at rest and each 30 s step is accepted once (the device row is locked while a
code is checked); backup codes are kept as keyed hashes and each works once.
"""

import time

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts import permissions, throttling
from apps.accounts.models import BackupCode, TwoFactorDevice, User
from apps.audit.changes import changes_between
from apps.audit.services import audit_record
from conversa import totp as otp
from conversa.crypto import decrypt_text, encrypt_text
from conversa.errors import Conflict, Forbidden, TokenInvalid, ValidationFailed
from tenants.models import Company


class OtpRequired(TokenInvalid):
    """The password was right; the account needs a second factor (`otp`) too."""

    code = "otp_required"
    default_message = _("Enter the code from your authenticator app or a backup code.")

    def __init__(self, message=None, *, user: User | None = None):
        self.user = user  # for the UI's second step; never rendered
        super().__init__(message)


class OtpInvalid(TokenInvalid):
    code = "otp_invalid"
    default_message = _("That code is not right. Try the current one.")


class TwoFactorSetupRequired(Forbidden):
    code = "two_factor_setup_required"
    default_message = _("Your company requires two-factor sign-in: set it up first.")


def is_on(user: User) -> bool:
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def company_requires() -> bool:
    """Whether the current company requires two-factor sign-in of everyone."""
    return Company.objects.filter(
        schema_name=connection.schema_name, require_two_factor=True,
    ).exists()


def setup_pending(user: User, company: Company | None = None) -> bool:
    """Whether `user` must still set up two-factor sign-in before doing anything else."""
    required = company.require_two_factor if company is not None else company_requires()
    return required and not is_on(user)


def _issuer() -> str:
    company = Company.objects.filter(schema_name=connection.schema_name).only("name", "brand_name").first()
    return (company.brand_name or company.name) if company else "Conversa"


def two_factor_setup(*, user: User) -> tuple[str, str]:
    """A new secret for `user` (replacing one not yet confirmed): `(secret, otpauth URL)`.

    Sign-in is unchanged until `two_factor_enable` confirms a code of it.
    """
    secret = otp.new_secret()
    with transaction.atomic():
        device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.is_confirmed:
            raise Conflict(_("Two-factor sign-in is already on. Turn it off first to set it up again."))
        if device is None:
            device = TwoFactorDevice(user=user)
        device.secret_encrypted = encrypt_text(secret)
        device.last_used_step = 0
        device.save()
    return secret, otp.provisioning_uri(secret, email=user.email, issuer=_issuer())


def pending_secret(user: User) -> tuple[str, str] | None:
    """The unconfirmed secret and its URL (the set-up page shows it again after a wrong code)."""
    device = TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        return None
    secret = decrypt_text(device.secret_encrypted)
    return secret, otp.provisioning_uri(secret, email=user.email, issuer=_issuer())


def _bad_code(field: str = "code") -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(OtpInvalid.default_message)}])


def two_factor_enable(*, user: User, code: str, request=None) -> list[str]:
    """Confirm the set-up with a current code; returns 10 backup codes, shown this once.

    A wrong code spends the account's code budget (429 when spent).
    """
    throttling.check_otp_allowed(user=user)
    with transaction.atomic():
        device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            raise Conflict(_("Start the set-up first."))
        if device.is_confirmed:
            raise Conflict(_("Two-factor sign-in is already on."))
        step = otp.matching_step(decrypt_text(device.secret_encrypted), code, time.time())
        if step is None:
            throttling.record_otp_failure(user=user)
            raise _bad_code()
        device.last_used_step = step
        device.confirmed_at = timezone.now()
        device.save(update_fields=["last_used_step", "confirmed_at"])
        codes = _issue_backup_codes(user)
        audit_record(action="two_factor.enabled", entity_type="user", entity_id=user.pk, actor=user,
                     changes={"two_factor": [False, True]}, request=request)
    return codes


def _issue_backup_codes(user: User) -> list[str]:
    codes = otp.new_backup_codes()
    BackupCode.objects.filter(user=user).delete()
    BackupCode.objects.bulk_create(
        BackupCode(user=user, code_hash=otp.hash_backup_code(code)) for code in codes
    )
    return codes


def code_verify(*, user: User, code: str) -> bool:
    """True for a TOTP code of a step not used before, or an unused backup code (used up now).

    Locks the device row: of two requests carrying one code, one passes.
    """
    code = (code or "").strip()
    if not code:
        return False
    with transaction.atomic():
        device = (TwoFactorDevice.objects.select_for_update()
                  .filter(user=user, confirmed_at__isnull=False).first())
        if device is None:
            return False
        if not otp.looks_like_totp(code):
            return bool(BackupCode.objects.filter(
                user=user, code_hash=otp.hash_backup_code(code), used_at__isnull=True,
            ).update(used_at=timezone.now()))
        step = otp.matching_step(decrypt_text(device.secret_encrypted), code, time.time())
        if step is None or step <= device.last_used_step:
            return False
        device.last_used_step = step
        device.save(update_fields=["last_used_step"])
    return True


def check_code(*, user: User, code: str) -> None:
    """Spend one try of the account's code budget: 429 when spent, OtpInvalid for a wrong code."""
    throttling.check_otp_allowed(user=user)
    if not code_verify(user=user, code=code):
        throttling.record_otp_failure(user=user)
        raise OtpInvalid()


def two_factor_disable(*, user: User, password: str, code: str, request=None) -> None:
    """Turn two-factor off with the password and a current code (or a backup code).

    Refused while the company requires two-factor sign-in.
    """
    throttling.check_otp_allowed(user=user)
    if not is_on(user):
        raise Conflict(_("Two-factor sign-in is off."))
    if company_requires():
        raise Forbidden(_("Your company requires two-factor sign-in: it cannot be turned off."))
    if not user.check_password(password):
        throttling.record_otp_failure(user=user)
        raise ValidationFailed(details=[{"field": "password", "message": str(_("Wrong password."))}])
    if not code_verify(user=user, code=code):
        throttling.record_otp_failure(user=user)
        raise _bad_code()
    with transaction.atomic():
        TwoFactorDevice.objects.filter(user=user).delete()
        BackupCode.objects.filter(user=user).delete()
        audit_record(action="two_factor.disabled", entity_type="user", entity_id=user.pk, actor=user,
                     changes={"two_factor": [True, False]}, request=request)


def backup_codes_left(user: User) -> int:
    return BackupCode.objects.filter(user=user, used_at__isnull=True).count()


def company_set_require_two_factor(*, actor, enabled: bool, request=None) -> Company:
    """Whether every user of the company must sign in with a second factor (admins only); those
    without one set it up at their next sign-in. Audited as `company.settings_changed`."""
    permissions.check(actor, "company.manage")
    with transaction.atomic():
        company = Company.objects.select_for_update().get(schema_name=connection.schema_name)
        if company.require_two_factor != enabled:
            changes = changes_between(company, {"require_two_factor": enabled}, ["require_two_factor"])
            company.require_two_factor = enabled
            company.save(update_fields=["require_two_factor", "updated_at"])
            audit_record(action="company.settings_changed", entity_type="company", entity_id=company.pk,
                         actor=actor, changes=changes, request=request)
    return company
