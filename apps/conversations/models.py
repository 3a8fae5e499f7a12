"""Conversations, their messages, internal notes, timeline, quick replies and scheduled sends."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

# Error code of a message whose send was interrupted after it may have reached the provider.
DELIVERY_UNKNOWN = "delivery_unknown"


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", _("Bot")
        QUEUED = "queued", _("Queued")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        CLOSED = "closed", _("Closed")
        ARCHIVED = "archived", _("Archived")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    # The only moves a status may make (SPEC §6); assignment also opens bot/queued/pending ones.
    TRANSITIONS = {
        Status.BOT: (Status.QUEUED, Status.OPEN, Status.CLOSED),
        Status.QUEUED: (Status.OPEN, Status.CLOSED),
        Status.OPEN: (Status.PENDING, Status.CLOSED),
        Status.PENDING: (Status.OPEN, Status.CLOSED),
        Status.CLOSED: (Status.OPEN, Status.ARCHIVED),
        Status.ARCHIVED: (),
    }
    ACTIVE_STATUSES = (Status.BOT, Status.QUEUED, Status.OPEN, Status.PENDING)

    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="conversations")
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.PROTECT, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    # The team whose queue and members the conversation belongs to (SPEC §3, §7); none: everyone's.
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    labels = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    bot_context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # The last message as the inbox list shows it (its start, or its kind for a file), kept with
    # the message so the list reads no messages.
    last_message_preview = models.CharField(max_length=120, blank=True)
    # When it last started waiting for an agent: the team queue is served in this order.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Who last gave it back to the queue (unassigned, or transferred to a team): routing hands it to
    # someone else, never straight back to them; cleared once anyone is assigned.
    handed_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SLA deadlines within the team's business hours; flagged once when one passes unmet.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    # The closed period (its start, ISO) whose offline message this conversation already got.
    offline_notice_period = models.CharField(max_length=40, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=50, blank=True)
    outcome_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    csat_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True)
    # The survey of the last close (`apps.conversations.csat`): sent, and answered.
    csat_requested_at = models.DateTimeField(null=True, blank=True)
    csat_answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            # One conversation in progress per contact and inbox: inbound messages find it.
            models.UniqueConstraint(
                fields=["contact", "inbox"],
                condition=Q(status__in=["bot", "queued", "open", "pending"]),
                name="one_active_conversation_per_contact_inbox",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="conv_status_activity_idx"),
            models.Index(fields=["assignee", "status"], name="conv_assignee_status_idx"),
            # CSAT answers over a date range (reports), without the conversations never rated.
            models.Index(
                fields=["csat_answered_at"], condition=Q(csat_answered_at__isnull=False),
                name="conv_csat_answered_idx",
            ),
            # The API's list (every status, newest activity first) read in index order a page at a
            # time, filtered by visibility on the way, instead of sorting everything visible.
            models.Index(F("last_message_at").desc(), F("id").desc(), name="conv_activity_idx"),
            # A team's queue, oldest first: what routing reads on every assignment.
            models.Index(
                fields=["team", "queued_at", "id"],
                condition=Q(status="queued", assignee__isnull=True),
                name="conv_team_queue_idx",
            ),
            # The inbox's default list (active conversations, newest activity first) read in index
            # order, a page at a time, and its tab counts as an index-only scan: both cost what the
            # active conversations cost, however many closed ones the company has accumulated.
            models.Index(
                Coalesce("last_message_at", "created_at").desc(), F("id").desc(),
                include=["assignee", "unread_count"],
                condition=Q(status__in=["bot", "queued", "open", "pending"]),
                name="conv_active_activity_idx",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.status}"

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class Sender(models.TextChoices):
        CONTACT = "contact", _("Contact")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        AUDIO = "audio", _("Audio")
        DOCUMENT = "document", _("Document")
        LOCATION = "location", _("Location")
        CONTACT_CARD = "contact_card", _("Contact card")
        TEMPLATE = "template", _("Template")
        INTERACTIVE = "interactive", _("Interactive")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    # Delivery only ever moves forward along this order; "failed" ends a message not yet delivered.
    STATUS_RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # Denormalised from the conversation so provider ids can be unique per inbox.
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    sender_type = models.CharField(max_length=10, choices=Sender.choices)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True)
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=15, blank=True)
    template_variables = models.JSONField(default=list, blank=True)
    media = models.ForeignKey(
        "media.MediaFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    media_ref = models.CharField(max_length=1000, blank=True)
    media_mime = models.CharField(max_length=100, blank=True)
    media_filename = models.CharField(max_length=200, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider_message_id = models.CharField(max_length=128, blank=True)
    # Our idempotency key for the send, echoed back by providers in status callbacks.
    send_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="provider_message_id_once_per_inbox",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "-created_at", "-id"], name="message_timeline_idx"),
            models.Index(fields=["status", "claimed_until"], name="message_delivery_idx"),
        ]

    def __str__(self):
        return f"{self.direction} {self.kind} #{self.pk}"


class Note(models.Model):
    """An internal note: seen by the team, never sent to the contact."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"note #{self.pk}"


class TimelineEvent(models.Model):
    """Who did what to a conversation, and when."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="timeline")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=40)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.kind} #{self.conversation_id}"


class ReadMark(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="read_marks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="one_read_mark_per_user"),
        ]

    def __str__(self):
        return f"{self.user_id} read #{self.conversation_id}"


class QuickReply(models.Model):
    shortcut = models.SlugField(max_length=50)
    content = models.TextField(max_length=4096)
    # Null owner: a company-wide reply; otherwise personal.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(
                fields=["shortcut"],
                condition=Q(owner__isnull=True),
                name="global_quick_reply_shortcut_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "shortcut"], name="personal_quick_reply_shortcut_unique"
            ),
        ]

    def __str__(self):
        return f"/{self.shortcut}"


class ScheduledMessage(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="scheduled_messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=4096)
    send_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["send_at", "id"]
        indexes = [models.Index(fields=["status", "send_at"], name="scheduled_due_idx")]

    def __str__(self):
        return f"scheduled #{self.pk} at {self.send_at:%Y-%m-%d %H:%M}"
