"""Outbound webhooks: the endpoints a company's admins register and every delivery made to them."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Endpoint(models.Model):
    """A URL that receives a company's events, signed with its secret (SPEC §12).

    `lease_until` is the per-endpoint queue's claim (at most one attempt in flight) and `retry_at`
    the whole endpoint's backoff after a failed attempt (`apps.webhooks.delivery`).
    """

    url = models.URLField(max_length=500)
    # Fernet-encrypted (conversa.crypto): signing needs the secret itself, so it cannot be hashed.
    secret_encrypted = models.TextField()
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # How long its last attempt took: a slow endpoint waits for a place like a failing one.
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return self.url

    @property
    def health(self) -> str:
        """`disabled`, `failing` (its last attempts failed) or `healthy`, for the settings page."""
        if not self.active:
            return "disabled"
        return "failing" if self.consecutive_failures else "healthy"


class Delivery(models.Model):
    """One event for one endpoint: stored before it is sent, then attempted until it succeeds or
    runs out of attempts. Its `key` is the `X-Conversa-Delivery` header and the body's `id`."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While `sending`: when the attempt's claim lapses (a worker that died mid-request).
    claimed_until = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    request_excerpt = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log_idx"),
            # The per-endpoint queue: the next due delivery of an endpoint.
            models.Index(fields=["endpoint", "next_attempt_at", "id"], name="webhook_delivery_due_idx",
                         condition=models.Q(status="pending")),
            # The minute sweep: attempts whose worker died.
            models.Index(fields=["claimed_until"], name="webhook_delivery_claim_idx",
                         condition=models.Q(status="sending")),
            # Retention: finished deliveries past WEBHOOK_DELIVERY_RETENTION_DAYS.
            models.Index(fields=["created_at"], name="webhook_delivery_age_idx",
                         condition=models.Q(status__in=["succeeded", "failed"])),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint_id} ({self.status})"
