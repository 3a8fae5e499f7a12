"""Users (super-admins in `public`, agents in each company's schema) and API keys."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("role", User.Role.ADMIN)
        return self.create_user(email, password, is_superuser=True, **fields)


class User(AbstractBaseUser):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        SUPERVISOR = "supervisor", _("Supervisor")
        AGENT = "agent", _("Agent")

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        BUSY = "busy", _("Busy")
        PAUSED = "paused", _("Paused")
        OFFLINE = "offline", _("Offline")

    # Always stored lower-cased (manager and services normalise it), so `unique` is case-blind.
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.AGENT)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OFFLINE)
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    language = models.CharField(max_length=10, default="en")
    is_active = models.BooleanField(default=True)
    # Only meaningful in the public schema: the platform operators.
    is_superuser = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.email

    @property
    def is_staff(self) -> bool:
        return self.is_superuser

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def is_supervisor_or_admin(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.SUPERVISOR)


class AgentStatusPeriod(models.Model):
    """One stretch of time a user spent in one status; the open one has no `ended_at`."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="status_periods")
    status = models.CharField(max_length=12, choices=User.Status.choices)
    reason = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(ended_at__isnull=True),
                name="one_open_status_period_per_user",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class ApiKey(models.Model):
    SCOPES = (
        "users:read", "users:write",
        "conversations:read", "conversations:write",
        "contacts:read", "contacts:write",
        "campaigns:read", "campaigns:write", "webhooks:write", "audit:read",
        "knowledge:read", "knowledge:write", "tasks:read", "tasks:write",
    )

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Invitation(models.Model):
    """An admin's invitation to join the company; the link's token is stored only as a hash.

    Pending: neither accepted nor revoked, and not expired. Accepting creates the user.
    """

    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=12, choices=User.Role.choices, default=User.Role.AGENT)
    # Teams live above accounts: their ids are kept here and the teams app adds the new member
    # when it hears `invitation.accepted`.
    team_ids = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=10, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["email"], name="accounts_invitation_email_idx")]

    def __str__(self):
        return f"{self.email} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"
class TwoFactorDevice(models.Model):
    """A user's TOTP secret (encrypted at rest); sign-in asks for a code once `confirmed_at` is set."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor")
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last 30 s step whose code was accepted: a code is accepted once.
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"two-factor of {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class BackupCode(models.Model):
    """A single-use code that stands in for a TOTP code; only its keyed hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="backup_code_unique_per_user"),
        ]

    def __str__(self):
        return f"backup code of {self.user_id}"


class DeviceSession(models.Model):
    """One signed-in device of the API: the chain of refresh tokens one login started.

    Each refresh rotates the token (`refresh_jti` follows it); revoking the session blacklists the
    current token and refuses the access tokens it issued (they carry the session's id, `sid`).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_sessions")
    refresh_jti = models.CharField(max_length=255, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_used_at", "-id"]

    def __str__(self):
        return f"session {self.pk} of {self.user_id}"
