"""Create (or reset the password of) a platform super-admin in the public schema."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from apps.accounts.models import User


class Command(BaseCommand):
    help = "Create a super-admin who signs in to the platform console and API on BASE_DOMAIN."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")

    def handle(self, *args, **options):
        email = options["email"].strip().lower()
        with schema_context(get_public_schema_name()):
            user = User.objects.filter(email__iexact=email).first() or User(email=email)
            try:
                password_validation.validate_password(options["password"], user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            created = user.pk is None
            user.name = options["name"] or user.name
            user.is_superuser = True
            user.role = User.Role.ADMIN
            user.is_active = True
            user.set_password(options["password"])
            user.save()
        self.stdout.write(f"{'created' if created else 'updated'} super-admin {email}")
