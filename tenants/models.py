"""Public-schema models: plans, companies (the tenants), their domains and monthly usage."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import DEFAULT_DB_ALIAS, models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from conversa.schemas import SCHEMA_NAME_RE
from tenants import databases

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
RESERVED_SLUGS = frozenset({
    "www", "api", "app", "admin", "console", "platform", "public", "static", "media", "mail",
    "help", "status", "docs", "hooks", "ws", "template", "tenant-template", "pg", "information-schema",
})

FEATURES = (
    "campaigns", "flows", "api_access", "webhooks", "knowledge_base", "team_chat",
    "reports_export", "white_label",
)
LIMITS = (
    "max_agents", "max_inboxes", "max_contacts", "max_monthly_outbound_messages",
    "max_storage_mb", "api_requests_per_minute",
)


class Plan(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    monthly_price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    # A null limit means unlimited.
    max_agents = models.PositiveIntegerField(null=True, blank=True)
    max_inboxes = models.PositiveIntegerField(null=True, blank=True)
    max_contacts = models.PositiveIntegerField(null=True, blank=True)
    max_monthly_outbound_messages = models.PositiveIntegerField(null=True, blank=True)
    max_storage_mb = models.PositiveIntegerField(null=True, blank=True)
    api_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    campaigns = models.BooleanField(default=False)
    flows = models.BooleanField(default=False)
    api_access = models.BooleanField(default=False)
    webhooks = models.BooleanField(default=False)
    knowledge_base = models.BooleanField(default=False)
    team_chat = models.BooleanField(default=False)
    reports_export = models.BooleanField(default=False)
    white_label = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["monthly_price", "code"]

    def __str__(self):
        return self.name

    def has_feature(self, feature: str) -> bool:
        if feature not in FEATURES:
            raise ValueError(f"unknown plan feature {feature!r}")
        return getattr(self, feature)

    def limit(self, name: str) -> int | None:
        if name not in LIMITS:
            raise ValueError(f"unknown plan limit {name!r}")
        return getattr(self, name)


def validate_schema_name(value: str) -> None:
    if not SCHEMA_NAME_RE.match(value) or value.startswith("pg_"):
        raise ValidationError(_("Invalid schema name."), code="invalid")


class Company(TenantMixin):
    class Status(models.TextChoices):
        TRIAL = "trial", _("Trial")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CANCELLED = "cancelled", _("Cancelled")

    BLOCKED_STATUSES = (Status.SUSPENDED, Status.CANCELLED)

    schema_name = models.CharField(max_length=41, unique=True, validators=[validate_schema_name])
    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=40, unique=True, validators=[RegexValidator(SLUG_RE)],
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="companies")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    # Lifecycle (tenants.lifecycle): the admins were warned that the trial ends soon (once); a
    # cancellation asked for keeps the company working until `grace_ends_at`, then cancels it.
    trial_warning_sent_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    owner_email = models.EmailField(blank=True)
    default_language = models.CharField(max_length=10, default="en")
    time_zone = models.CharField(max_length=64, default="UTC")
    brand_name = models.CharField(max_length=100, blank=True)
    primary_color = models.CharField(
        max_length=7, default="#0f766e", validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$")],
    )
    support_email = models.EmailField(blank=True)
    # Storage name of the re-encoded logo (`tenants/{schema}/branding/…`), served at /brand/logo.
    logo = models.CharField(max_length=255, blank=True)
    # An agent's reply to an unassigned conversation assigns it to them (the conversations' send).
    reply_assigns = models.BooleanField(default=True)
    # The tenant migrations this company's schema was last brought up to (see tenants.schema_versions):
    # `migrate_schemas` visits only the schemas whose stamp differs from the code's. Empty: unknown.
    migrations_stamp = models.CharField(max_length=64, blank=True, default="")
    # Every user must sign in with a second factor; those without one set it up at their next login.
    require_two_factor = models.BooleanField(default=False)
    # The database alias (settings.DATABASES) of the PostgreSQL server holding this company's schema;
    # the row itself stays on `default` with the platform's tables (tenants.databases).
    database = models.CharField(max_length=63, default="default")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self):
        return self.name

    @property
    def is_blocked(self) -> bool:
        return self.status in self.BLOCKED_STATUSES

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        # The template is migrated by `migrate_schemas`, so neither path runs any migration here.
        from tenants import schema_pool
        from tenants.schema_template import clone_template

        if check_if_exists and self.schema_exists():
            return False
        if self.database != DEFAULT_DB_ALIAS:
            # The pool's schemas are on the main cluster: clone this database's own template.
            with databases.pinned(self.database):
                clone_template(self.schema_name)
        elif not schema_pool.take(self.schema_name):
            clone_template(self.schema_name)
        return True

    def schema_exists(self) -> bool:
        from django_tenants.utils import schema_exists

        with databases.pinned(self.database):
            return schema_exists(self.schema_name)

    def clean(self):
        super().clean()
        if self.database not in settings.COMPANY_DATABASES:
            raise ValidationError({"database": _("Unknown database.")}, code="invalid")


class Domain(DomainMixin):
    """A host that serves a company: its own `{slug}.{BASE_DOMAIN}` or a custom domain.

    A custom domain is served only once verified (a TXT record with its token, see tenants.domains).
    """

    class Kind(models.TextChoices):
        SUBDOMAIN = "subdomain", _("Platform subdomain")
        CUSTOM = "custom", _("Custom domain")

    # Custom unless said otherwise: a row created without thought is never served unverified.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CUSTOM)
    verification_token = models.CharField(max_length=64, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def challenge_name(self) -> str:
        """The TXT record that proves control of the domain."""
        return f"_conversa-challenge.{self.domain}"


class MonthlyUsage(models.Model):
    """Counters of one company in one calendar month, only ever changed by atomic increments."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="usage")
    month = models.DateField(help_text="First day of the month (UTC).")
    outbound_messages = models.BigIntegerField(default=0)
    storage_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "month"], name="usage_one_row_per_month"),
        ]
        ordering = ["-month"]

    def __str__(self):
        return f"{self.company_id} {self.month:%Y-%m}"


class SchemaPoolEntry(models.Model):
    """A schema cloned from the template ahead of time, waiting to become a company's."""

    schema_name = models.CharField(max_length=63, unique=True)
    template_version = models.CharField(max_length=32, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.schema_name


# --- the console's own tables (super-admin console, platform audit) ---------------------------------

class PlatformAuditEntry(models.Model):
    """One action of a super-admin, in the console or through the platform API."""

    actor_id = models.BigIntegerField(null=True, blank=True)
    # Kept as text: the log outlives the super-admin's row.
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="platform_audit",
    )
    details = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    source = models.CharField(max_length=10, default="console")  # console | api
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "platform audit entries"

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action}"


class CompanyCounts(models.Model):
    """Agents, inboxes and contacts of a company, counted in its schema and kept here.

    Counting live in 1,000 schemas per console page is 3,000 queries; the list reads this table
    instead, refreshed by a periodic task, after console actions and whenever a company page opens.
    """

    company = models.OneToOneField(
        Company, primary_key=True, on_delete=models.CASCADE, related_name="counts",
    )
    agents = models.PositiveIntegerField(default=0)
    inboxes = models.PositiveIntegerField(default=0)
    contacts = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField()

    def __str__(self):
        return f"{self.company_id}: {self.agents}/{self.inboxes}/{self.contacts}"


class SuperAdminTotp(models.Model):
    """A super-admin's TOTP secret (encrypted at rest); sign-in asks for a code once `confirmed_at`
    is set."""

    user_id = models.BigIntegerField(unique=True)
    secret = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0)  # a code is accepted once
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"totp of {self.user_id}"


class SuperAdminBackupCode(models.Model):
    """A super-admin's single-use backup code (keyed hash only, see conversa.totp)."""

    user_id = models.BigIntegerField(db_index=True)
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"backup code of {self.user_id}"
