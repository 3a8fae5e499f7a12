"""Provision a company: `create_company --name N --slug S --plan CODE --admin-email E --admin-password P`."""

from django.core.management.base import BaseCommand, CommandError

from conversa.errors import DomainError
from tenants.services import company_create, tenant_host


class Command(BaseCommand):
    help = "Create a company with its schema, domain and first admin; prints the tenant host."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--plan", default="free")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--language", default="en", choices=["en", "es", "pt-br"])
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--database", default="default",
                            help="Alias of the PostgreSQL server for its schema (DATABASE_SHARDS).")

    def handle(self, *args, **options):
        try:
            company, _ = company_create(
                name=options["name"], slug=options["slug"], plan_code=options["plan"],
                admin_email=options["admin_email"], admin_password=options["admin_password"],
                admin_name=options["admin_name"], default_language=options["language"],
                time_zone=options["time_zone"], database=options["database"],
            )
        except DomainError as exc:
            details = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in exc.details
                                if isinstance(d, dict))
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        self.stdout.write(tenant_host(company.slug))
