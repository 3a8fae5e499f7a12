"""`restore_company --slug SLUG --from FILE.zip`: load a company backup into an empty company."""

import time

from django.core.management.base import BaseCommand, CommandError

from apps.exports.restore import RestoreRefused, restore_company
from tenants.models import Company


class Command(BaseCommand):
    help = ("Load a company backup (the ZIP of a `company` export) into an empty company, in one "
            "transaction; ids are new, every reference follows them.")

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True, help="The company to restore into (it must be empty).")
        parser.add_argument("--from", dest="path", required=True, help="The backup's ZIP file.")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["slug"]).first()
        if company is None:
            raise CommandError(f"No company has the slug {options['slug']!r}.")
        started = time.perf_counter()
        try:
            restored = restore_company(company=company, path=options["path"])
        except RestoreRefused as exc:
            raise CommandError(str(exc)) from exc
        matched = restored.users_matched
        self.stdout.write(
            f"Restored {sum(restored.rows.values())} rows of {len(restored.rows)} kinds and "
            f"{restored.files} files into {company.slug} in {time.perf_counter() - started:.1f} s"
            + (f" ({matched} existing users matched by email)." if matched else ".")
        )
