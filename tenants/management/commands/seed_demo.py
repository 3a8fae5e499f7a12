"""Idempotent demo data: the `demo` company with an admin and two agents, and a super-admin."""

import os

from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import user_create
from tenants.models import Company
from tenants.services import company_create, tenant_host

DEMO_PASSWORD = "conversa-demo"
SUPERADMIN = ("operator@example.com", "Platform operator")
ADMIN = ("admin@example.com", "Daniela Admin")
AGENTS = [
    ("ana@example.com", "Ana Agent", "agent"),
    ("bruno@example.com", "Bruno Agent", "agent"),
]


class Command(BaseCommand):
    help = "Create (or complete) the demo company `demo`, its users and a platform super-admin."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args, **options):
        password = options["password"]
        self.ensure_superadmin(password)
        company = Company.objects.filter(slug="demo").first()
        if company is None:
            company, _ = company_create(
                name="Demo Company", slug="demo", plan_code="pro", admin_email=ADMIN[0],
                admin_password=password, admin_name=ADMIN[1],
            )
        with schema_context(company.schema_name):
            for email, name, role in AGENTS:
                if not User.objects.filter(email=email).exists():
                    user_create(email=email, password=password, name=name, role=role)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        port = os.environ.get("PORT", "8000")
        self.stdout.write(f"  company:      http://{tenant_host('demo')}:{port}/api/v1/docs")
        for email, _name, *role in [ADMIN, *AGENTS]:
            self.stdout.write(f"  {(role[0] if role else 'admin'):<12}  {email} / {password}")
        self.stdout.write(f"  super-admin   {SUPERADMIN[0]} / {password}  (platform API on BASE_DOMAIN)")

    def ensure_superadmin(self, password: str) -> None:
        with schema_context("public"):
            if not User.objects.filter(email=SUPERADMIN[0]).exists():
                User.objects.create_superuser(SUPERADMIN[0], password, name=SUPERADMIN[1])
