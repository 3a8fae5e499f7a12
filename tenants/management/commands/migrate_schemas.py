"""`migrate_schemas` that visits only the company schemas behind the code, and keeps the template
schema current so that clones are never stale."""

from django_tenants.management.commands import SyncCommon
from django_tenants.management.commands.migrate_schemas import GET_EXECUTOR_FUNCTION, MigrateSchemasCommand
from django_tenants.utils import get_public_schema_name

from tenants import schema_pool
from tenants.models import Company
from tenants.schema_template import migrate_template
from tenants.schema_versions import tenant_migrations_stamp

# Options that ask for something else than "bring every schema up to the code": they keep
# django-tenants' own behaviour (every schema visited, no stamp written).
_SPECIAL = ("schema_name", "app_label", "migration_name", "fake", "fake_initial", "plan", "prune",
            "check_unapplied", "all_schemas")


class Command(MigrateSchemasCommand):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--all-schemas", action="store_true", dest="all_schemas",
            help="Visit every company's schema, also those whose migrations stamp says they are current.",
        )

    def handle(self, *args, **options):
        if any(options.get(name) for name in _SPECIAL):
            super().handle(*args, **options)
        else:
            self._migrate_behind(*args, **options)
        targets_one_schema = self.schema_name and self.schema_name != self.PUBLIC_SCHEMA_NAME
        if self.sync_tenant and not targets_one_schema:
            migrate_template(verbosity=options.get("verbosity", 1))
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
        behind = list(
            Company.objects.exclude(schema_name=self.PUBLIC_SCHEMA_NAME).exclude(migrations_stamp=stamp)
            .order_by("pk").values_list("schema_name", flat=True)
        )
        if options.get("verbosity", 1) >= 1:
            self.stdout.write(f"{len(behind)} company schema(s) behind the code's migrations")
        if behind:
            executor.run_migrations(tenants=behind)
            Company.objects.filter(schema_name__in=behind).update(migrations_stamp=stamp)
