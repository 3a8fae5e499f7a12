"""The contacts CRM of one company: its customers and the custom fields it defines for them."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.utils.translation import gettext_lazy as _

PHONE_UNIQUE_CONSTRAINT = "contacts_contact_phone_unique_active"


def normalize_tag(tag: str) -> str:
    """Tags compare case-blind and ignore stray spaces: "VIP " and "vip" are one tag."""
    return " ".join(tag.split()).lower()


class ContactManager(models.Manager):
    """Contacts that are not soft-deleted: what every caller sees unless it asks for history."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Contact(models.Model):
    class LeadStatus(models.TextChoices):
        NEW = "new", _("New")
        CONTACTED = "contacted", _("Contacted")
        QUALIFIED = "qualified", _("Qualified")
        CUSTOMER = "customer", _("Customer")
        LOST = "lost", _("Lost")

    name = models.CharField(max_length=200, blank=True)
    # E.164 ("+5511987654321"), written only through `apps.contacts.phones.normalize_phone`.
    phone = models.CharField(max_length=20)
    email = models.EmailField(max_length=254, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    language = models.CharField(max_length=10, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    lead_status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW)
    lead_score = models.IntegerField(default=0)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # Values checked against CustomFieldDefinition by the services; keys are definition keys.
    custom_fields = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    blocked = models.BooleanField(default=False)
    company_name = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    # The WhatsApp 24-hour service window is computed from this by the conversations app.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set on the contact that a merge folded into another one (it is soft-deleted at the same time).
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_from"
    )
    # GDPR erasure: personal data and media removed, conversations kept anonymised.
    erased_at = models.DateTimeField(null=True, blank=True)

    # Deleted ones included. Related lookups (a conversation's contact) use Django's base manager,
    # which is unfiltered too, so old conversations still reach their deleted contact.
    all_objects = models.Manager()
    objects = ContactManager()

    class Meta:
        ordering = ["-id"]
        # `objects` (not the first declared manager): get_object_or_404, admin and forms skip deleted.
        default_manager_name = "objects"
        constraints = [
            # A deleted contact keeps its phone but frees it for a new contact.
            models.UniqueConstraint(
                fields=["phone"], condition=Q(deleted_at__isnull=True), name=PHONE_UNIQUE_CONSTRAINT,
            ),
        ]
        indexes = [
            GinIndex(fields=["tags"], name="contacts_contact_tags_gin"),
            GinIndex(
                fields=["custom_fields"], opclasses=["jsonb_path_ops"],
                name="contacts_contact_custom_gin",
            ),
            # Trigram indexes serve the searches of `contact_list`. Django compiles `icontains` to
            # UPPER(col::text) LIKE UPPER(…), hence the UPPER expressions. Their SQL is written out in
            # migration 0001: OpClass() on an expression renders correctly only with
            # django.contrib.postgres installed, which this project does not need otherwise.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="contacts_contact_name_trgm"),
            GinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="contacts_contact_email_trgm"),
            # On UPPER(phone), as search asks for it (icontains), and not on the column itself: the
            # planner would pick it for `phone IN (…)` too, where it reads every phone's shared
            # trigrams (130 ms for 100 phones against the unique index's 1 ms).
            GinIndex(OpClass(Upper("phone"), name="gin_trgm_ops"), name="contacts_contact_phone_up_trgm"),
        ]

    def __str__(self):
        return f"{self.name} ({self.phone})" if self.name else self.phone


class CustomFieldDefinition(models.Model):
    """A custom contact field the company defines (key, label, type); values live on Contact."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOL = "bool", _("Yes/no")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices)
    # The allowed values of a `choice` field; empty for the other types.
    choices = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.key} ({self.type})"


class ContactList(models.Model):
    """A static group of contacts, the usual audience of a campaign (SPEC §5)."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="contacts_contactlist_name_unique_ci"),
        ]

    def __str__(self):
        return self.name


class ContactListMember(models.Model):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="list_memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="contacts_listmember_unique"),
        ]
        indexes = [models.Index(fields=["contact"], name="contacts_listmember_contact")]

    def __str__(self):
        return f"{self.contact_id} in {self.contact_list_id}"


class Segment(models.Model):
    """A saved filter over contacts: `{tags?, lead_status?, custom_fields?, q?}` (SPEC §15.1), read
    live each time, so its members change with the contacts."""

    name = models.CharField(max_length=100)
    filters = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="contacts_segment_name_unique_ci"),
        ]

    def __str__(self):
        return self.name


class ContactImport(models.Model):
    """One CSV/XLSX import run in the background; its result is `{imported, updated, skipped, errors}`."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=4, choices=Format.choices)
    filename = models.CharField(max_length=255, blank=True)
    # Where the uploaded file lies in the default storage (removed once the import is over).
    file_name = models.CharField(max_length=500, blank=True)
    # Column header → contact field key ("phone", "name", "email", "tags", "custom.<key>", …; "" skips).
    mapping = models.JSONField(default=dict, blank=True)
    # {default_country, update_existing, tags} chosen when the import was started.
    options = models.JSONField(default=dict, blank=True)
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.SET_NULL, null=True, blank=True, related_name="imports"
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{row, error}]
    failure = models.CharField(max_length=500, blank=True)  # why a `failed` import stopped
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run that holds the import and when it last committed a batch: a run whose heartbeat is
    # older than IMPORT_STALE_SECONDS is taken to be dead and another takes over (imports.py).
    runner = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["heartbeat_at"], name="import_unfinished_idx",
                         condition=models.Q(status__in=["queued", "running"])),
        ]

    def __str__(self):
        return f"{self.filename} ({self.status})"
