"""Team chat among a company's users: rooms (direct or group), who is in them, and their messages."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Room(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", _("Direct")
        GROUP = "group", _("Group")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "<smaller user id>:<larger user id>" for a direct room: one room per pair, whoever opens it.
    direct_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="direct", direct_key__isnull=False)
                           | Q(kind="group", direct_key__isnull=True)),
                name="teamchat_direct_rooms_have_a_pair_key",
            ),
        ]

    def __str__(self):
        return self.name or f"room #{self.pk}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # Visible messages of others after `last_read_message_id`; kept under the room's row lock by
    # every write that changes it (send, release, delete, read), so it is exact.
    unread_count = models.PositiveIntegerField(default=0)
    last_read_message_id = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Set when the user left or was removed: the row stays so a return keeps its read position.
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="teamchat_one_membership_per_user"),
        ]
        indexes = [models.Index(fields=["user", "left_at"], name="teamchat_rooms_of_user_idx")]

    def __str__(self):
        return f"{self.user_id} in {self.room_id}"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    media = models.ForeignKey(
        "media.MediaFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # While its file is being scanned only the author sees the message; others once it is clean.
    held = models.BooleanField(default=False)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    mentions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["room", "id"], name="teamchat_room_timeline_idx"),
            models.Index(fields=["reply_to"], name="teamchat_thread_idx",
                         condition=Q(reply_to__isnull=False)),
        ]

    def __str__(self):
        return f"chat message #{self.pk}"
