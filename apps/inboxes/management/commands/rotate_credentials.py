"""Re-encrypt every inbox's credentials with the newest FIELD_ENCRYPTION_KEYS key, in every company."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import schema_context

from apps.inboxes import crypto
from apps.inboxes.models import Inbox
from tenants.models import Company


class Command(BaseCommand):
    help = "Re-encrypt provider credentials with the newest key; run before dropping an old key."

    def handle(self, *args, **options):
        total = 0
        for schema_name in Company.objects.exclude(schema_name="public").values_list(
            "schema_name", flat=True
        ):
            with schema_context(schema_name), transaction.atomic():
                for inbox in Inbox.objects.select_for_update().exclude(credentials_encrypted=""):
                    inbox.credentials_encrypted = crypto.rotate(inbox.credentials_encrypted)
                    inbox.save(update_fields=["credentials_encrypted"])
                    total += 1
        self.stdout.write(f"re-encrypted the credentials of {total} inboxes")
