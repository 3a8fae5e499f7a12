"""Which company schemas a `migrate_schemas` run must visit: those behind the code's migrations.

Each company records a stamp of the tenant migrations its schema was last migrated to (a hash of the
names of every migration file of the tenant apps). A run compares the stamps with the code's in one
query on the public schema and migrates only the schemas that differ, so a no-op run touches no
company schema and a release with one new migration visits every schema once. A schema is stamped
once its migrations are committed (tenants.migration_replay: by the batch as they are done); a run
that fails leaves the old stamps of the schemas it did not finish, and the next run visits those
again (Django then skips what they already have). A new company
is stamped at creation only when its schema, as cloned, holds exactly the tenant migrations of the
code creating it (a clone is as current as the template was, which a rolling deploy cannot
promise): otherwise it starts without a stamp and the next run checks it. Without that, the first
run after a burst of sign-ups visited every new company (987 s after 1,000 of them).
"""

import functools
import hashlib

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader


def _tenant_labels() -> set[str]:
    return {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}


@functools.cache
def _code_migrations() -> tuple[str, ...]:
    """The tenant migrations of the running code. Read from disk once per process (a new release
    starts new processes): company_create asks on every sign-up."""
    labels = _tenant_labels()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return tuple(sorted(f"{app}.{name}" for app, name in loader.disk_migrations if app in labels))


def _stamp(names: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def tenant_migrations_stamp() -> str:
    return _stamp(_code_migrations())


def stamp_if_current() -> str:
    """The code's stamp when the current schema holds exactly the code's tenant migrations, else ""."""
    code = _code_migrations()
    labels = _tenant_labels()
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = tuple(sorted(f"{app}.{name}" for app, name in cursor.fetchall() if app in labels))
    return _stamp(code) if applied == code else ""
