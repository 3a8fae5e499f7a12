"""`migrate_schemas` that also keeps the template schema current, so clones are never stale."""

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants import schema_pool
from tenants.schema_template import install_clone_function, migrate_template


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        super().handle(*args, **options)
        targets_one_schema = self.schema_name and self.schema_name != self.PUBLIC_SCHEMA_NAME
        if self.sync_tenant and not targets_one_schema:
            migrate_template(verbosity=options.get("verbosity", 1))
            # Ready schemas cloned from the old template must never become companies.
            schema_pool.drop_stale()
        if self.sync_public and not targets_one_schema:
            install_clone_function()

