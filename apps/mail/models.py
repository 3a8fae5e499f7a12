"""The outbox: every email is written here first, then sent by a task that retries on failure."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailOutbox(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # What the email is about (the template's name): invitation, password_reset, trial_ending…
    kind = models.CharField(max_length=40)
    to = models.EmailField(max_length=254)
    # "Brand name <address of DEFAULT_FROM_EMAIL>"; replies go to the company's support email.
    from_email = models.CharField(max_length=300)
    reply_to = models.EmailField(max_length=254, blank=True)
    language = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=300)
    # Emptied once sent when `sensitive`: a link with a token must not outlive its delivery here.
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    sensitive = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="mail_outbox_status_idx")]

    def __str__(self):
        return f"{self.kind} to {self.to} ({self.status})"
