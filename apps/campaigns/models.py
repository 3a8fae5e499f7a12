"""Campaigns (bulk and scheduled broadcasts) and their recipients, one row per contact (SPEC §9)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", pgettext_lazy("campaign status", "Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", pgettext_lazy("campaign status", "Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class PauseReason(models.TextChoices):
        MANUAL = "manual", _("Paused by a user")
        OUTBOUND_LIMIT = "outbound_limit", _("Monthly outbound limit reached")

    # Who may move where (SPEC §9); anything else is 409 `invalid_transition`.
    TRANSITIONS = {
        Status.DRAFT: {Status.SCHEDULED, Status.RUNNING, Status.CANCELLED},
        Status.SCHEDULED: {Status.DRAFT, Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.RUNNING: {Status.PAUSED, Status.COMPLETED, Status.CANCELLED, Status.FAILED},
        Status.PAUSED: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
        Status.FAILED: set(),
    }
    EDITABLE = (Status.DRAFT, Status.SCHEDULED)
    FINAL = (Status.COMPLETED, Status.CANCELLED, Status.FAILED)

    name = models.CharField(max_length=200)
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # {"list_ids": [...], "segment_id": id | null, "tags": [...]}
    audience = models.JSONField(default=dict)
    # Free text with {{contact.*}} variables, or a template: {"name", "language", "variables": [...]}
    # whose variables may hold {{contact.*}} too. Exactly one of the two is set.
    text = models.TextField(blank=True)
    template = models.JSONField(null=True, blank=True)
    media = models.ForeignKey(
        "media.MediaFile", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    # {"days": ["mon", …], "start": "09:00", "end": "18:00"} in `timezone`; empty: any time.
    send_window = models.JSONField(default=dict, blank=True)
    # What the user asked for; the sender paces at min(this, the inbox's rate).
    rate_per_second = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    pause_reason = models.CharField(max_length=20, choices=PauseReason.choices, blank=True)
    # Set once the recipients are materialised (a retried start does not insert them again).
    materialized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="campaign_status_sched_idx")]

    def __str__(self):
        return self.name

    def may_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]

    @property
    def effective_rate(self) -> int:
        """Messages per second the sender paces at: the campaign's, capped by the inbox's."""
        inbox_rate = max(1, self.inbox.rate_limit_per_second)
        return min(self.rate_per_second or inbox_rate, inbox_rate)


class CampaignRecipient(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", pgettext_lazy("campaign status", "Skipped")

    # Delivery statuses only move forward (failed can still be overtaken by delivered/read: the
    # provider's word beats our `delivery_unknown`).
    RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
    FINAL = (Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED, Status.SKIPPED)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # skipped: opted_out | blocked; failed: the provider's error code or ours (delivery_unknown…)
    reason = models.CharField(max_length=50, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    # Carried by the send; providers echo it in status callbacks, so a lost response is settled.
    send_key = models.UUIDField(default=uuid.uuid4, unique=True)
    # Claimed by the sender until then (queued), or settled by the rule after then (sending).
    claimed_until = models.DateTimeField(null=True, blank=True)
    # A retry after a retryable provider error waits until then.
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # The conversation the contact's reply landed in (set on their first reply after the send).
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_unique"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="campaign_rcpt_status_idx"),
            models.Index(
                fields=["provider_message_id"], name="campaign_rcpt_provider_idx",
                condition=~Q(provider_message_id=""),
            ),
            models.Index(fields=["contact", "-sent_at"], name="campaign_rcpt_contact_idx"),
        ]

    def __str__(self):
        return f"{self.contact_id} in {self.campaign_id} ({self.status})"
