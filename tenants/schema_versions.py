"""Which company schemas a `migrate_schemas` run must visit: those behind the code's migrations.

Each company records a stamp of the tenant migrations its schema was last migrated to (a hash of the
names of every migration file of the tenant apps). A run compares the stamps with the code's in one
query on the public schema and migrates only the schemas that differ, so a no-op run touches no
company schema and a release with one new migration visits every schema once. A stamp is written
only after the executor finished every schema of the run; a run that fails leaves the old stamps, and
the next run visits those schemas again (Django then skips what they already have). New companies
start without a stamp: a clone is as current as the template was, which a rolling deploy cannot
promise, so the next run checks them.
"""

import hashlib

from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader


def tenant_migrations_stamp() -> str:
    labels = {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = sorted(f"{app}.{name}" for app, name in loader.disk_migrations if app in labels)
    return hashlib.sha256("\n".join(names).encode()).hexdigest()
