"""What a company backup holds, shared by the builder (`backup.py`) and the loader (`restore.py`).

The ZIP: `manifest.json` (format and version, the company, when, its applied migrations, rows per
entity, what was left out and why, every media file with its SHA-256), one JSON Lines file per
model of every tenant app under `data/` (each row its fields by column name, ids as they were) and
the files under `media/`. Models are found by walking the app registry, so a new tenant model is
in the next backup unless it is listed in EXCLUDED_MODELS with its reason (a test holds that).
"""

import base64
import datetime as dt

from django.apps import apps
from django.conf import settings
from django.db import models

FORMAT = "conversa-company-backup"
VERSION = 1

# Models never carried over, and why (the manifest repeats these).
EXCLUDED_MODELS = {
    "contenttypes.ContentType": "Framework table rebuilt by migrate; holds no company data.",
    "auth.Permission": "Framework table rebuilt by migrate; holds no company data.",
    "auth.Group": "Django groups are not used by Conversa (roles are a field of the user).",
    "auth.Group_permissions": "Django groups are not used by Conversa.",
    "sessions.Session": "Signed-in browser sessions: nobody stays signed in across a restore.",
    "token_blacklist.OutstandingToken": "JWT bookkeeping; tokens name the old company and expire.",
    "token_blacklist.BlacklistedToken": "JWT bookkeeping; tokens name the old company and expire.",
    "accounts.DeviceSession": "Signed-in devices (refresh tokens): sessions do not survive a restore.",
    "accounts.ApiKey": "Secret hashes of API keys: an admin creates new keys after a restore.",
    "inboxes.WebhookEvent": "Raw provider payloads, a processing queue: their content is in the messages.",
    "exports.Export": "Exported files (backups among them) expire within a day and their links name "
                      "the old company.",
    "mail.EmailOutbox": "Outgoing email queue: its links (invitations, resets) name the old host.",
    "reports.ConversationFact": "Report rollups: rebuilt from the restored rows (the restore asks for it).",
    "reports.MessageHour": "Report rollups: rebuilt from the restored rows (the restore asks for it).",
    "reports.MessageMinute": "Report rollups: rebuilt from the restored rows (the restore asks for it).",
    "reports.RollupState": "Report rollups: rebuilt from the restored rows (the restore asks for it).",
    "webhooks.Endpoint": "Outbound webhooks hold a signing secret, like provider credentials: an admin "
                         "adds them again after a restore.",
    "webhooks.Delivery": "The delivery log of outbound webhooks (kept 30 days).",
    "automation.RuleExecution": "The run log of automation rules: its event keys name the old ids.",
}

# Fields left out of rows that are kept: the restored row gets the field's default.
EXCLUDED_FIELDS = {
    "inboxes.Inbox.credentials_encrypted": "Provider credentials (encrypted secrets): an admin enters "
                                           "them again after a restore.",
    "inboxes.Inbox.sandbox_token": "The sandbox's secret: a new one is made on restore.",
}

# Foreign keys that close a circle between two models: loaded empty, then set once both are in.
DEFERRED_RELATIONS = {
    "flows.Flow.published_version": "A flow names one of its own versions, which name the flow.",
}

# Storage paths held in text fields: the files go under media/ and the field is rewritten on restore.
FILE_FIELDS = {
    "media.MediaFile": ("storage_name", "thumbnail_name"),
    "contacts.ContactImport": ("file_name",),
}

JSON_ID_KEYS = {
    "conversation_id": "conversations.Conversation",
    "message_id": "conversations.Message",
    "reply_to_id": "conversations.Message",
    "note_id": "conversations.Note",
    "scheduled_id": "conversations.ScheduledMessage",
    "assignee_id": "accounts.User",
    "previous_assignee_id": "accounts.User",
    "by_user_id": "accounts.User",
    "user_id": "accounts.User",
    "sender_user_id": "accounts.User",
    "team_id": "teams.Team",
    "previous_team_id": "teams.Team",
    "team_ids": "teams.Team",
    "contact_id": "contacts.Contact",
    "from_contact_id": "contacts.Contact",
    "to_contact_id": "contacts.Contact",
    "merged_contact_id": "contacts.Contact",
    "list_id": "contacts.ContactList",
    "list_ids": "contacts.ContactList",
    "segment_id": "contacts.Segment",
    "import_id": "contacts.ContactImport",
    "inbox_id": "inboxes.Inbox",
    "inbox_ids": "inboxes.Inbox",
    "user_ids": "accounts.User",
    "campaign_id": "campaigns.Campaign",
    "media_id": "media.MediaFile",
    "notification_id": "notifications.Notification",
    "export_id": "exports.Export",
    "room_id": "teamchat.Room",
    "chat_message_id": "teamchat.Message",
    "task_id": "tasks.Task",
    "comment_id": "tasks.TaskComment",
    "flow_id": "flows.Flow",
    "rule_id": "automation.Rule",
    "macro_id": "automation.Macro",
    "article_id": "knowledge.Article",
}
ALL_KEYS = tuple(JSON_ID_KEYS)

# JSON fields that hold ids of other rows, remapped on restore like foreign keys: the keys (of
# JSON_ID_KEYS) it may hold, at any depth; or the name of a model whose ids make the whole value (a
# list). Other JSON (custom fields, bot variables) is the customer's own and never touched.
JSON_ID_FIELDS = {
    "conversations.TimelineEvent.data": ALL_KEYS,
    "notifications.Notification.data": ALL_KEYS,
    "audit.AuditLog.changes": ALL_KEYS,
    "campaigns.Campaign.audience": ("list_ids", "segment_id"),
    "accounts.Invitation.team_ids": "teams.Team",
    "automation.Rule.conditions": ("inbox_ids",),
    "automation.Rule.actions": ("team_id", "user_id", "user_ids"),
    "automation.Macro.actions": ("team_id", "user_id", "user_ids"),
    "teamchat.Message.mentions": "accounts.User",
    "flows.Flow.graph": ("team_id",),  # hand-off nodes name their team
    "flows.FlowVersion.graph": ("team_id",),
}

# The audit log names its entity by type and id (text): types whose ids are remapped.
AUDIT_ENTITY_TYPES = {
    "user": "accounts.User",
    "conversation": "conversations.Conversation",
    "contact": "contacts.Contact",
    "team": "teams.Team",
    "inbox": "inboxes.Inbox",
    "campaign": "campaigns.Campaign",
    "media": "media.MediaFile",
    "contact_list": "contacts.ContactList",
    "segment": "contacts.Segment",
    "invitation": "accounts.Invitation",
    "export": "exports.Export",
}


def tenant_models() -> list[type[models.Model]]:
    """Every concrete model of the tenant apps (auto-created many-to-many tables included)."""
    found = []
    for config in apps.get_app_configs():
        if config.name in settings.TENANT_APPS:
            found += [model for model in config.get_models(include_auto_created=True)
                      if not model._meta.proxy and model._meta.managed]
    return found


def exported_models() -> list[type[models.Model]]:
    """The models a backup holds, parents before the rows that point at them."""
    return dependency_order([m for m in tenant_models() if m._meta.label not in EXCLUDED_MODELS])


def dependency_order(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    """Every model after those its rows name: by foreign keys, ids in JSON or audited entities."""
    labels = {model._meta.label: model for model in chosen}
    needs = {label: set(_referenced(model)) & set(labels) - {label} for label, model in labels.items()}
    ordered: list[str] = []
    while needs:
        ready = sorted(label for label, wanted in needs.items() if not wanted - set(ordered))
        if not ready:
            raise ValueError(f"foreign keys go round in a circle between {sorted(needs)}")
        ordered += ready
        for label in ready:
            del needs[label]
    return [labels[label] for label in ordered]


def _referenced(model: type[models.Model]):
    label = model._meta.label
    for field in model._meta.concrete_fields:
        if field.is_relation and f"{label}.{field.name}" not in DEFERRED_RELATIONS:
            yield field.related_model._meta.label
        held = JSON_ID_FIELDS.get(f"{label}.{field.name}")
        if isinstance(held, str):
            yield held
        elif held:
            yield from (JSON_ID_KEYS[key] for key in held)
    if label == "audit.AuditLog":
        yield from AUDIT_ENTITY_TYPES.values()


def stored_fields(model: type[models.Model]) -> list[models.Field]:
    label = model._meta.label
    return [f for f in model._meta.concrete_fields if f"{label}.{f.name}" not in EXCLUDED_FIELDS]


def _iso(value):
    return value.isoformat()


def _base64(value):
    return base64.b64encode(bytes(value)).decode()


def _seconds(value):
    return value.total_seconds()


# Types JSON holds as they come from the database, both ways (most columns: no work per value).
_AS_IS = (models.CharField, models.TextField, models.IntegerField, models.BooleanField,
          models.FloatField, models.JSONField)


def encoder(field: models.Field):
    """How a column's (non-null) value becomes JSON, or None when it already is: times in full ISO
    8601 (microseconds kept), decimals, UUIDs and addresses as text, bytes in base64."""
    if isinstance(field, models.DateTimeField | models.DateField | models.TimeField):
        return _iso
    if isinstance(field, models.DecimalField | models.UUIDField | models.GenericIPAddressField):
        return str
    if isinstance(field, models.BinaryField):
        return _base64
    if isinstance(field, models.DurationField):
        return _seconds
    return None


def decoder(field: models.Field):
    """How a (non-null) JSON value becomes the column's Python value again, or None when it is."""
    if isinstance(field, _AS_IS):
        return None
    if isinstance(field, models.DurationField):
        return lambda value: dt.timedelta(seconds=value)
    return field.to_python
