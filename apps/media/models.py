"""Files uploaded by agents or received from customers, quarantined until clamd says clean."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MediaFile(models.Model):
    class Status(models.TextChoices):
        SCANNING = "scanning", _("Scanning")
        CLEAN = "clean", _("Clean")
        INFECTED = "infected", _("Infected")
        REJECTED = "rejected", _("Rejected")

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        AUDIO = "audio", _("Audio")
        DOCUMENT = "document", _("Document")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Upload")
        INBOUND = "inbound", _("Received from a customer")

    # Public handle in URLs and storage paths: ids are guessable, this is not.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    mime_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=300, blank=True)
    thumbnail_name = models.CharField(max_length=300, blank=True)
    thumbnail_mime = models.CharField(max_length=50, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCANNING)
    signature = models.CharField(max_length=200, blank=True, help_text="What clamd found.")
    reject_reason = models.CharField(max_length=300, blank=True)
    scan_attempts = models.PositiveIntegerField(default=0)
    next_scan_at = models.DateTimeField(null=True, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_scan_at"], name="media_scan_due_idx")]

    def __str__(self):
        return f"{self.kind} {self.key} ({self.status})"

    @property
    def is_clean(self) -> bool:
        return self.status == self.Status.CLEAN
