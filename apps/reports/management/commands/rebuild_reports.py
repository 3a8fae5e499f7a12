"""Rebuild the reports' rollups of one company (or every company) from its conversations and messages."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from apps.reports.rebuild import reports_rebuild
from tenants.models import Company


class Command(BaseCommand):
    help = ("Rebuild the report rollups (conversation facts, message counters) from the raw data: "
            "all of them, or what happened since --from (a day in the company's time zone).")

    def add_arguments(self, parser):
        parser.add_argument("--slug", help="Only this company (default: every company).")
        parser.add_argument("--from", dest="since", help="YYYY-MM-DD: rebuild from this day on.")

    def handle(self, *args, **options):
        companies = Company.objects.exclude(schema_name="public").exclude(status=Company.Status.CANCELLED)
        if options["slug"]:
            companies = companies.filter(slug=options["slug"])
            if not companies.exists():
                raise CommandError(f"No company with the slug {options['slug']!r}.")
        day = None
        if options["since"]:
            try:
                day = dt.date.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError("--from takes a date as YYYY-MM-DD.") from exc
        for company in companies.order_by("slug"):
            since = None
            if day is not None:
                since = dt.datetime.combine(day, dt.time(), ZoneInfo(company.time_zone or "UTC"))
            with schema_context(company.schema_name):
                result = reports_rebuild(since=since)
            self.stdout.write(f"{company.slug}: {result['facts']} conversations, messages up to id "
                              f"{result['counted_upto']}, in {result['seconds']} s")
