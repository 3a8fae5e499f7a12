"""Teams (queues, departments): who answers which inboxes, how work reaches them, when they are
open and how fast they promise to answer (SPEC §7)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_CAPACITY = 5


class Team(models.Model):
    class Routing(models.TextChoices):
        MANUAL = "manual", _("Manual")
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_BUSY = "least_busy", _("Least busy")

    name = models.CharField(max_length=100, unique=True)
    routing = models.CharField(max_length=12, choices=Routing.choices, default=Routing.MANUAL)
    # {"timezone": "America/Sao_Paulo", "days": {"mon": [["09:00", "18:00"]], …},
    #  "holidays": ["2026-12-25"]}; empty: always open.
    business_hours = models.JSONField(default=dict, blank=True)
    offline_message = models.TextField(blank=True, max_length=4096)
    sla_first_response_seconds = models.PositiveIntegerField(null=True, blank=True)
    sla_resolution_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def routes_automatically(self) -> bool:
        return self.routing != self.Routing.MANUAL


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    # Most conversations open (or pending) at once that routing gives this member.
    capacity = models.PositiveSmallIntegerField(default=DEFAULT_CAPACITY)
    # Routing prefers members of higher priority while they have room.
    priority = models.SmallIntegerField(default=0)
    skills = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # Round robin hands the next conversation to whoever waited longest since their last one.
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team_id", "-priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team_user"),
        ]

    def __str__(self):
        return f"{self.user_id} in {self.team_id}"
