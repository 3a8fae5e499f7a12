"""Rollups the reports read instead of the raw conversations and messages (SPEC §12).

Both are kept by `apps.reports.listeners` after each commit and rebuilt from the raw data by
`manage.py rebuild_reports`:

- `ConversationFact`: one row per conversation with what the figures need (times in business
  hours of its team, SLA verdict, outcome, CSAT), so medians and p90 over a date range are exact
  (`percentile_cont`) and read from a few indexed columns.
- `MessageHour`: messages in and out per UTC hour, inbox, team and agent, added to by upserts;
  `MessageMinute` the same per minute and team for the live dashboard's last hour (pruned).
"""

from django.db import models

# Team and agent ids in the counters: 0 stands for "none", so the unique key (and the upsert's
# ON CONFLICT) treat every row alike.
NONE = 0


class ConversationFact(models.Model):
    class Sla(models.TextChoices):
        NONE = "", "none"
        MET = "met", "met"
        BREACHED = "breached", "breached"
        PENDING = "pending", "pending"

    conversation = models.OneToOneField(
        "conversations.Conversation", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # Plain ids: a deleted team or user leaves its history in the figures.
    inbox_id = models.IntegerField()
    team_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True)
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True)
    closed_at = models.DateTimeField(null=True)
    # Within the team's business hours (calendar time for a conversation of no team).
    first_response_seconds = models.IntegerField(null=True)
    resolution_seconds = models.IntegerField(null=True)
    sla = models.CharField(max_length=10, choices=Sla.choices, blank=True)
    outcome = models.CharField(max_length=50, blank=True)
    outcome_value = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    csat_rating = models.PositiveSmallIntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["opened_at"], name="fact_opened_idx"),
            models.Index(fields=["closed_at"], name="fact_closed_idx"),
            models.Index(fields=["first_response_at"], name="fact_first_response_idx"),
        ]

    def __str__(self):
        return f"fact of #{self.conversation_id}"


class MessageHour(models.Model):
    hour = models.DateTimeField()
    inbox_id = models.IntegerField()
    team_id = models.IntegerField(default=NONE)
    agent_id = models.IntegerField(default=NONE)
    inbound = models.IntegerField(default=0)
    outbound = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "inbox_id", "team_id", "agent_id"], name="message_hour_key"
            ),
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h inbox {self.inbox_id}: {self.inbound} in, {self.outbound} out"


class MessageMinute(models.Model):
    minute = models.DateTimeField()
    team_id = models.IntegerField(default=NONE)
    inbound = models.IntegerField(default=0)
    outbound = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["minute", "team_id"], name="message_minute_key"),
        ]

    def __str__(self):
        return f"{self.minute:%H:%M} team {self.team_id}"


class RollupState(models.Model):
    """One row: the highest message id the last rebuild counted. The incremental counters skip
    messages up to it, so a message counted by a rebuild is never counted again by its event."""

    counted_upto = models.BigIntegerField(default=0)
    rebuilt_at = models.DateTimeField(null=True)

    def __str__(self):
        return f"counted up to message {self.counted_upto}"
