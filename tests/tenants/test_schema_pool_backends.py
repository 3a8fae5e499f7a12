"""The connection that clones pool schemas is replaced after a few clones (committed work: a
transaction would keep it open)."""

from django.db import connection

from tenants import schema_pool
from tenants.models import SchemaPoolEntry


def test_a_backend_that_cloned_many_schemas_is_replaced_by_a_fresh_one(live_db, settings, monkeypatch):
    """A backend's catalog caches grow with every relation it creates: clones there slow down."""
    monkeypatch.setattr(schema_pool, "CLONES_PER_BACKEND", 2)
    monkeypatch.setattr(schema_pool, "_clones_by_backend", {})
    settings.TENANT_SCHEMA_POOL_SIZE = 3
    backends = []
    clone = schema_pool.clone_template

    def clone_on(name):
        backends.append(connection.connection.info.backend_pid)
        clone(name)

    monkeypatch.setattr(schema_pool, "clone_template", clone_on)
    try:
        assert schema_pool.fill() == 3
        first, second, third = backends
        assert first == second != third
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [first])
            assert cursor.fetchone()[0] == 0  # ended, not parked in a pool
    finally:
        settings.TENANT_SCHEMA_POOL_SIZE = 0
        for entry in SchemaPoolEntry.objects.all():
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{entry.schema_name}" CASCADE')
            entry.delete()
