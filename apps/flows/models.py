"""Bot flows: a draft graph, its frozen published versions, the sessions that run them and their steps."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Flow(models.Model):
    class Trigger(models.TextChoices):
        NEW_CONVERSATION = "new_conversation", _("New conversation")
        KEYWORD = "keyword", _("Keyword")
        MANUAL = "manual", _("Manual start")

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    trigger_type = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    # None: every inbox of the company.
    trigger_inbox = models.ForeignKey(
        "inboxes.Inbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger_keywords = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    # The draft the editor saves; publishing freezes a copy of it as a FlowVersion.
    graph = models.JSONField(default=dict)
    # A session waiting this long for the customer's answer times out (back to the agents' queue).
    timeout_minutes = models.PositiveIntegerField(default=60)
    # Off: nothing triggers it (running sessions finish); agents cannot start it.
    is_active = models.BooleanField(default=True)
    published_version = models.ForeignKey(
        "FlowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Deleted flows keep their versions and sessions for the reports; nothing triggers them.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return self.name

    @property
    def trigger(self) -> dict:
        return {
            "type": self.trigger_type,
            "inbox_id": self.trigger_inbox_id,
            "keywords": list(self.trigger_keywords),
        }


class FlowVersion(models.Model):
    """A published graph: never changed, so sessions that started on it finish on it."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="flow_version_number_unique")]

    def __str__(self):
        return f"{self.flow_id} v{self.number}"


class FlowSession(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        HANDED_OFF = "handed_off", _("Handed off")
        DROPPED = "dropped", _("Dropped")
        TIMED_OUT = "timed_out", _("Timed out")

    class Waiting(models.TextChoices):
        NOTHING = "", _("Nothing")
        START = "start", _("Its first step")
        INPUT = "input", _("The customer's answer")
        DELAY = "delay", _("A delay")
        HTTP = "http", _("An HTTP call")

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="sessions")
    version = models.ForeignKey(FlowVersion, on_delete=models.CASCADE, related_name="sessions")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="flow_sessions"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    # The node the session is at (waiting at it, or the last one it ran once ended).
    node = models.CharField(max_length=64, blank=True)
    waiting = models.CharField(max_length=8, choices=Waiting.choices, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Inbound messages up to this id were seen by the session (an answer is consumed once).
    last_message_id = models.BigIntegerField(default=0)
    trigger = models.CharField(max_length=20, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A delay ends at waiting_until; an unanswered question expires at expires_at.
    waiting_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Why it ended: "end", "handoff", "agent", "attempts", "timeout", "error", "flow_deleted".
    ended_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One step at a time per conversation starts with one running session per conversation.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status="running"),
                name="one_running_flow_session",
            ),
        ]
        indexes = [
            models.Index(fields=["flow", "started_at"], name="flow_session_started_idx"),
            models.Index(
                fields=["waiting_until"],
                condition=Q(status="running", waiting="delay"),
                name="flow_session_delay_idx",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="running", waiting="input"),
                name="flow_session_expiry_idx",
            ),
        ]

    def __str__(self):
        return f"session {self.pk} {self.status} at {self.node}"


class FlowStep(models.Model):
    """One visit of a node by a session: per-node visits are counted from these."""

    session = models.ForeignKey(FlowSession, on_delete=models.CASCADE, related_name="steps")
    version = models.ForeignKey(FlowVersion, on_delete=models.CASCADE, related_name="+")
    node = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["version", "node"], name="flow_step_version_node_idx")]

    def __str__(self):
        return f"{self.session_id} at {self.node}"
