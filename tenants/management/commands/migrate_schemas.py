"""`migrate_schemas` that visits only the company schemas behind the code, on every database that
holds companies, replays one schema's migration SQL in the others that hold the same migrations
(tenants.migration_replay), and keeps each database's template schema current so that clones are
never stale."""

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS
from django_tenants.management.commands import SyncCommon
from django_tenants.management.commands.migrate_schemas import GET_EXECUTOR_FUNCTION, MigrateSchemasCommand
from django_tenants.utils import get_public_schema_name

from tenants import databases, migration_replay, schema_pool
from tenants.models import Company
from tenants.schema_template import migrate_template
from tenants.schema_versions import tenant_migrations_stamp

# Options that ask for something else than "bring every schema up to the code": they keep
# django-tenants' own behaviour (every schema visited, no stamp written).
_SPECIAL = ("schema_name", "app_label", "migration_name", "fake", "fake_initial", "plan", "prune",
            "check_unapplied")


class Command(MigrateSchemasCommand):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--all-schemas", action="store_true", dest="all_schemas",
            help="Visit every company's schema, also those whose migrations stamp says they are current.",
        )

    def handle(self, *args, **options):
        requested = options.get("database") or DEFAULT_DB_ALIAS
        # A run inside a pinned one (the template's, below) stays on that database.
        pinned_now = databases.current() != DEFAULT_DB_ALIAS
        schema_name = options.get("schema_name")
        if pinned_now:
            targets = [databases.current()]
        elif schema_name and schema_name != get_public_schema_name():
            targets = [databases.database_of_schema(schema_name)]
        elif requested == DEFAULT_DB_ALIAS:
            targets = databases.aliases()  # a release migrates every database
        else:
            targets = [requested]
        special = any(options.get(name) for name in _SPECIAL)
        if special and not schema_name and len(targets) > 1 and Company.objects.exclude(
            database=DEFAULT_DB_ALIAS
        ).exists():
            # django-tenants' own run visits every company row on one database.
            raise CommandError("Companies live on several databases: name one with --database "
                               "together with --schema, or run without these options.")
        for alias in targets:
            if alias == DEFAULT_DB_ALIAS or pinned_now:
                self._handle_database(special, *args, **{**options, "database": DEFAULT_DB_ALIAS})
            else:
                if options.get("verbosity", 1) >= 1:
                    self.stdout.write(f"Database {alias}:")
                # `default` means that database throughout, public schema and template included.
                with databases.pinned(alias):
                    self._handle_database(special, *args, **{**options, "database": DEFAULT_DB_ALIAS})

    def _handle_database(self, special, *args, **options):
        if special:
            super().handle(*args, **options)
        else:
            self._migrate_behind(*args, **options)
        targets_one_schema = self.schema_name and self.schema_name != self.PUBLIC_SCHEMA_NAME
        if self.sync_tenant and not targets_one_schema:
            migrate_template(verbosity=options.get("verbosity", 1))
            if databases.current() == DEFAULT_DB_ALIAS:  # the pool is the main cluster's
                # Ready schemas cloned from the old template must never become companies.
                schema_pool.drop_stale()

    def _migrate_behind(self, *args, **options):
        SyncCommon.handle(self, *args, **options)
        self.PUBLIC_SCHEMA_NAME = get_public_schema_name()
        executor = GET_EXECUTOR_FUNCTION(codename=self.executor)(self.args, self.options)
        if self.sync_public:
            executor.run_migrations(tenants=[self.PUBLIC_SCHEMA_NAME])
        if not self.sync_tenant:
            return
        stamp = tenant_migrations_stamp()
        # The company rows are on the main cluster, whichever database this run migrates.
        companies = Company.objects.using(databases.PLATFORM).exclude(
            schema_name=self.PUBLIC_SCHEMA_NAME).filter(
            database=databases.current(),
        )
        if not options.get("all_schemas"):
            companies = companies.exclude(migrations_stamp=stamp)
        behind = list(companies.order_by("pk").values_list("schema_name", "migrations_stamp"))
        verbose = options.get("verbosity", 1) >= 1
        if verbose:
            self.stdout.write(f"{len(behind)} company schema(s) behind the code's migrations")
        # Schemas of one stamp hold the same migrations: one is migrated, the others replay it.
        groups: dict[str, list[str]] = {}
        for schema_name, schema_stamp in behind:
            groups.setdefault(schema_stamp, []).append(schema_name)

        def stamp_migrated(schemas: list[str]) -> None:
            Company.objects.using(databases.PLATFORM).filter(schema_name__in=schemas).update(
                migrations_stamp=stamp)

        migration_replay.migrate_schemas(
            groups,
            run_with_executor=lambda schemas: executor.run_migrations(tenants=list(schemas)),
            workers=(getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
                     if self.executor == "multiprocessing" else 1),
            on_migrated=stamp_migrated,
            write=self.stdout.write if verbose else lambda line: None,
        )
