"""Plain `migrate` runs the schema-aware migration (as django-tenants intends), template included."""

from tenants.management.commands.migrate_schemas import Command  # noqa: F401
