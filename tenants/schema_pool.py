"""A few company schemas cloned ahead of time, so provisioning a company is a rename.

A clone replays the template's DDL (tenants.schema_template), a few hundred statements; a ready
schema is taken with `ALTER SCHEMA … RENAME` in milliseconds, inside the provisioning transaction,
and a Huey task refills the pool off the request path. Pool schemas remember the template's
migration state and are never handed out once the template has moved on.
"""

import logging
import uuid

from django.conf import settings
from django.db import connection, transaction

from tenants.models import SchemaPoolEntry
from tenants.schema_template import clone_template, template_version

logger = logging.getLogger("conversa.provisioning")

POOL_PREFIX = "pool_"

# A PostgreSQL backend caches the catalog entries of every relation it has created, and each clone
# creates a few hundred: on one long-lived connection a clone went from 0.28 s to 0.89 s over 2,000
# clones. A connection that has cloned this many schemas is closed for good (not returned to the
# pool) once it is outside a transaction; the next clone starts on a fresh backend.
CLONES_PER_BACKEND = 20
_clones_by_backend: dict[int, int] = {}


def take(schema_name: str) -> bool:
    """Rename a ready pool schema to `schema_name` (inside the caller's transaction); False if none."""
    entry = (
        SchemaPoolEntry.objects.select_for_update(skip_locked=True)
        .filter(template_version=template_version())
        .order_by("created_at")
        .first()
    )
    if entry is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{entry.schema_name}" RENAME TO "{schema_name}"')
    entry.delete()
    return True


def fill(size: int | None = None) -> int:
    """Clone schemas until the pool holds `size` current ones; returns how many were added."""
    size = settings.TENANT_SCHEMA_POOL_SIZE if size is None else size
    version = template_version()
    added = 0
    while SchemaPoolEntry.objects.filter(template_version=version).count() < size:
        name = f"{POOL_PREFIX}{uuid.uuid4().hex[:16]}"
        with transaction.atomic():
            clone_template(name)
            SchemaPoolEntry.objects.create(schema_name=name, template_version=version)
        added += 1
        _count_clone()
    return added


def _count_clone() -> None:
    backend = connection.connection.info.backend_pid
    _clones_by_backend[backend] = _clones_by_backend.get(backend, 0) + 1
    if _clones_by_backend[backend] >= CLONES_PER_BACKEND and not connection.in_atomic_block:
        del _clones_by_backend[backend]
        raw = connection.connection
        if hasattr(raw, "_expire_at"):
            # A pooled connection: past its best-before date, the pool closes it on return and opens
            # another (what its `max_lifetime` does; closing it ourselves logs a broken connection).
            raw._expire_at = 0
        else:
            raw.close()
        connection.close()


def drop_stale() -> int:
    """Drop pool schemas cloned from an older template (run after migrations)."""
    version = template_version()
    stale = list(SchemaPoolEntry.objects.exclude(template_version=version))
    for entry in stale:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{entry.schema_name}" CASCADE')
            entry.delete()
    return len(stale)
