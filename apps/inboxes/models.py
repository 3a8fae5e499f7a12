"""Inboxes (connected numbers), their message templates and the raw webhooks they receive."""

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.inboxes import crypto


def new_secret() -> str:
    return secrets.token_urlsafe(24)


class Inbox(models.Model):
    class Provider(models.TextChoices):
        WHATSAPP_CLOUD = "whatsapp_cloud", _("WhatsApp Cloud API")
        TWILIO = "twilio", _("Twilio")
        SANDBOX = "sandbox", _("Sandbox")

    class Health(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        DISCONNECTED = "disconnected", _("Disconnected")
        ERROR = "error", _("Error")

    class CsatMode(models.TextChoices):
        REPLY = "reply", _("Numbered reply (1–5)")
        LINK = "link", _("Link to a rating page")

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    credentials_encrypted = models.TextField(blank=True)
    # Shown to admins: the sandbox's X-Sandbox-Token and the path secret of webhook URLs.
    sandbox_token = models.CharField(max_length=64, default=new_secret)
    rate_limit_per_second = models.PositiveIntegerField(default=80)
    daily_limit = models.PositiveIntegerField(null=True, blank=True)
    reopen_window_hours = models.PositiveIntegerField(default=24)
    # New conversations join this team's queue and follow its hours; none: everyone's queue.
    default_team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="inboxes"
    )
    # Close conversations idle this long (none: never), optionally saying so to the customer.
    auto_close_after_hours = models.PositiveIntegerField(null=True, blank=True)
    auto_close_message = models.TextField(blank=True)
    greeting_message = models.TextField(blank=True)
    away_message = models.TextField(blank=True)
    # Satisfaction survey when a conversation closes (SPEC §6): a numbered reply or a link to a page.
    csat_enabled = models.BooleanField(default=False)
    csat_mode = models.CharField(max_length=10, choices=CsatMode.choices, default=CsatMode.REPLY)
    # Empty: the default request, in the company's language.
    csat_message = models.TextField(blank=True)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.CONNECTED)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, credentials: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_json(credentials)


class MessageTemplate(models.Model):
    class Category(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        UTILITY = "utility", _("Utility")
        AUTHENTICATION = "authentication", _("Authentication")

    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        PENDING = "pending", _("Pending")
        REJECTED = "rejected", _("Rejected")

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15, default="en")
    body = models.TextField()
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.UTILITY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPROVED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["inbox", "name", "language"], name="template_unique_per_inbox"),
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    @property
    def variable_count(self) -> int:
        import re

        return len(set(re.findall(r"\{\{(\d+)\}\}", self.body)))

    def render(self, variables: list[str]) -> str:
        text = self.body
        for index, value in enumerate(variables, start=1):
            text = text.replace(f"{{{{{index}}}}}", value)
        return text


class WebhookEvent(models.Model):
    """A provider webhook exactly as received: stored before we answer 200, processed by Huey."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="webhook_events")
    body = models.BinaryField()
    content_type = models.CharField(max_length=100, blank=True)
    # Twilio status callbacks carry our send key in their URL, not in the body.
    send_key = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["status", "received_at"], name="webhook_pending_idx")]

    def __str__(self):
        return f"{self.inbox_id} {self.status} {self.received_at:%Y-%m-%d %H:%M:%S}"
