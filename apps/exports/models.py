"""Exports of a company's data (contacts, conversations, audit log) as CSV or XLSX files, and of
the whole company as a backup ZIP."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Export(models.Model):
    """One file generated in the background for the user (or API key) who asked; downloadable by a
    short-lived signed link bound to the company (`apps.exports.signing`)."""

    class Entity(models.TextChoices):
        CONTACTS = "contacts", _("Contacts")
        CONVERSATIONS = "conversations", _("Conversations")
        AUDIT_LOGS = "audit_logs", _("Audit log")
        # Everything, as a ZIP of JSON files and media (apps.exports.backup): admins only.
        COMPANY = "company", _("Whole company (backup)")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"
        ZIP = "zip", "ZIP"

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Ready")
        FAILED = "failed", _("Failed")
        # The file was deleted EXPORT_RETENTION_HOURS after it was made; the row stays as history.
        EXPIRED = "expired", _("Expired")

    # The file's name in the storage and in signed links: random, never guessable from the id.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entity = models.CharField(max_length=20, choices=Entity.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file_name = models.CharField(max_length=500, blank=True)  # in the default storage
    filename = models.CharField(max_length=200, blank=True)  # offered to the browser
    rows = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_by", "-id"], name="export_owner_idx")]

    def __str__(self):
        return f"{self.entity}.{self.format} ({self.status})"
