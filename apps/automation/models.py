"""Automation rules (event → conditions → actions, run by a worker), their executions, and macros
(named lists of the same actions an agent runs on a conversation in one click)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Rule(models.Model):
    class Event(models.TextChoices):
        CONVERSATION_CREATED = "conversation.created", _("Conversation created")
        MESSAGE_CREATED = "message.created", _("Message created")
        STATUS_CHANGED = "conversation.status_changed", _("Conversation status changed")

    name = models.CharField(max_length=100)
    event = models.CharField(max_length=40, choices=Event.choices)
    # [{"type": "inbox", "inbox_ids": [1]}, …]: all must hold (`apps.automation.conditions`).
    conditions = models.JSONField(default=list, blank=True)
    # [{"type": "add_label", "label": "vip"}, …] in order (`apps.automation.actions`).
    actions = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    # Rules of one event run in this order.
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run_count = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["event", "active"], name="automation_rule_event_idx")]

    def __str__(self):
        return self.name

    @property
    def cause(self) -> str:
        """What events published by this rule's actions carry (`conversa.events.caused_by`)."""
        return f"{CAUSE_PREFIX}{self.pk}"


# Events whose cause starts with this were published by a rule's actions: rules never react to them.
CAUSE_PREFIX = "automation.rule:"


class RuleExecution(models.Model):
    """One rule fired for one event: the unique key makes a retried or repeated evaluation a no-op."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="executions")
    event_key = models.CharField(max_length=100)
    conversation_id = models.BigIntegerField(null=True, blank=True)
    # [{"type": …, "ok": true} | {"type": …, "ok": false, "error": "code"}]
    results = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "event_key"], name="automation_fires_once_per_event"),
        ]

    def __str__(self):
        return f"{self.rule_id} on {self.event_key}"


class Macro(models.Model):
    class Visibility(models.TextChoices):
        PERSONAL = "personal", _("Personal")
        SHARED = "shared", _("Shared")

    name = models.CharField(max_length=100)
    actions = models.JSONField(default=list)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PERSONAL)
    # A shared macro outlives its author; a personal one without an author is nobody's (never shown).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name
