"""Which PostgreSQL database serves a company: one alias per company, followed by `default`.

Every company row (public schema, main cluster) names the database alias its schema lives on
(`Company.database`, "default" unless it was placed or moved elsewhere). The platform's own tables
(companies, plans, domains, usage, the console's) stay on the main cluster, alias `default`.

Why `default` follows the company instead of a router sending tenant models to the company's alias:
the product reaches a company's data through `transaction.atomic()`, `transaction.on_commit()`,
`select_for_update()` and raw `connection.cursor()` calls, all of which name no alias and so mean
`default`; a router alone would send the ORM's queries to the company's cluster while those
transactions, locks and cursors stayed on the main one (no locks, no atomicity, raw SQL on the
wrong server). So the thread's `default` connection *is* the company's database while it serves
that company, and the one thing that has to move elsewhere, the platform's own models, is sent back
to the main cluster by `CompanyDatabaseRouter`.

The switch happens where django-tenants switches schemas: the connection's `set_tenant()`,
`set_schema()` and `set_schema_to_public()` (so `schema_context`, `tenant_context`, the tenant
middleware, the websocket consumers and the Huey tasks all follow without change). The chosen alias
is thread-local, like Django's connections and django-tenants' schema. With one database configured
nothing is looked up and `default` is always the main cluster.
"""

import copy
import threading
import time
from contextlib import contextmanager

import environ
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import ConnectionHandler
from django_tenants.routers import TenantSyncRouter

# Always the main cluster, wherever `default` points at the moment (the router's answer for the
# platform's models while the thread serves a company on another database).
PLATFORM = "platform"
# Apps whose models live only in the public schema of the main cluster.
PLATFORM_APPS = frozenset({"tenants", "django_tenants"})

_state = threading.local()

# schema name → alias, for every company (only filled while several databases are configured).
_schemas: dict[str, str] = {}
_schemas_read_at = 0.0
_schemas_lock = threading.Lock()


def several_databases() -> bool:
    return len(settings.COMPANY_DATABASES) > 1


def current() -> str:
    """The alias `default` means in this thread right now."""
    return getattr(_state, "pinned", None) or getattr(_state, "current", DEFAULT_DB_ALIAS)


def main_connection():
    """The main cluster's connection of this thread (the platform's tables)."""
    return connections[PLATFORM]


def aliases() -> list[str]:
    """The aliases of the databases that hold companies, `default` (the main cluster) first; other
    aliases in DATABASES (if any) hold none."""
    return list(settings.COMPANY_DATABASES)


def _load_schemas() -> None:
    global _schemas_read_at
    # The main cluster's connection, whatever the thread serves: inside a provisioning transaction
    # it sees the company row that transaction has just written.
    with main_connection().cursor() as cursor:
        cursor.execute("SELECT schema_name, database FROM public.tenants_company")
        _schemas.clear()
        _schemas.update(cursor.fetchall())
    _schemas_read_at = time.monotonic()


def database_of_schema(schema_name: str) -> str:
    """The alias of the database that holds `schema_name` (a company's, or `default`)."""
    if not several_databases() or schema_name == settings.PUBLIC_SCHEMA_NAME:
        return DEFAULT_DB_ALIAS
    with _schemas_lock:
        age = time.monotonic() - _schemas_read_at
        # Every company is in the map: one missing was made since (or is no company: the template
        # or a pool schema, looked up rarely). Guessing `default` for a company elsewhere would
        # not fail there: its search_path would fall back to the main cluster's public schema.
        if age > settings.DATABASE_MAP_MAX_AGE_SECONDS or schema_name not in _schemas:
            _load_schemas()
        return _schemas.get(schema_name, DEFAULT_DB_ALIAS)


def _database_field(tenant) -> str | None:
    """The company row's alias, unless it is not at hand (a FakeTenant, a partial row)."""
    deferred = getattr(tenant, "get_deferred_fields", lambda: ())()
    database = None if "database" in deferred else getattr(tenant, "database", None)
    if database is not None and database not in settings.COMPANY_DATABASES:
        # Serving it from `default` would not fail: its search_path would fall back to `public`.
        raise LookupError(
            f"company {tenant.schema_name!r} is on database {database!r}, which is not configured"
            " (DATABASE_SHARDS)"
        )
    return database


def database_of(tenant) -> str:
    database = _database_field(tenant)
    if not several_databases():
        return DEFAULT_DB_ALIAS
    return database or database_of_schema(tenant.schema_name)


def forget() -> None:
    """Read the companies' databases again at the next lookup (after moving a company)."""
    global _schemas_read_at
    with _schemas_lock:
        _schemas_read_at = 0.0


def _switch(database) -> "object":
    """Point this thread's `default` at the alias `database()` names (unless pinned: then nothing
    is looked up) and return that connection."""
    if getattr(_state, "pinned", None) is None:
        _state.current = database()
    return connections[DEFAULT_DB_ALIAS]


@contextmanager
def pinned(alias: str):
    """Run operator work (provisioning a schema, migrations) on database `alias`: `default` means
    it throughout, public schema included, whichever schema the work selects, and the platform's
    models too (their tables there are unused copies): name `PLATFORM` to reach the main cluster."""
    if alias not in settings.COMPANY_DATABASES:
        raise LookupError(f"database {alias!r} is not configured (DATABASE_SHARDS)")
    previous = getattr(_state, "pinned", None)
    _state.pinned = alias
    try:
        yield connections[alias]
    finally:
        _state.pinned = previous


class _FollowsTheCompany:
    """Mixed into every connection's class: selecting a schema selects its database first.

    django-tenants' `schema_context`/`tenant_context` call these on `connections["default"]`, the
    tenant middleware on `connection`; either way the schema is set on the connection of the
    database that holds it, which `default` then means in this thread.
    """

    def _target(self, database):
        # A connection being built (its __init__ selects `public`) or one outside the handler
        # (Django's no-database connection, a test's copy) keeps its schema to itself.
        if self.tenant is None or self.alias not in settings.COMPANY_DATABASES or not several_databases():
            return self
        return _switch(database)

    def set_tenant(self, tenant, include_public=True):
        if not several_databases():
            _database_field(tenant)  # a company on a server this process does not know: refuse
        target = self._target(lambda: database_of(tenant))
        super(_FollowsTheCompany, target).set_tenant(tenant, include_public)

    def set_schema(self, schema_name, include_public=True, tenant_type=None):
        target = self._target(lambda: database_of_schema(schema_name))
        super(_FollowsTheCompany, target).set_schema(
            schema_name, include_public=include_public, tenant_type=tenant_type,
        )

    def set_schema_to_public(self):
        target = self._target(lambda: DEFAULT_DB_ALIAS)
        super(_FollowsTheCompany, target).set_schema_to_public()


_following: dict[type, type] = {}


def _following_class(wrapper_class: type) -> type:
    if wrapper_class not in _following:
        _following[wrapper_class] = type(wrapper_class.__name__, (_FollowsTheCompany, wrapper_class),
                                         {"__module__": wrapper_class.__module__})
    return _following[wrapper_class]


class _CompanyConnectionHandler(ConnectionHandler):
    """`connections`, with `default` meaning the database of the company the thread serves."""

    def __getitem__(self, alias):
        if alias == DEFAULT_DB_ALIAS:
            alias = current()
        elif alias == PLATFORM:
            alias = DEFAULT_DB_ALIAS
        return super().__getitem__(alias)

    def create_connection(self, alias):
        connection = super().create_connection(alias)
        if hasattr(connection, "set_tenant"):  # django-tenants' backend (whichever subclass of it)
            connection.__class__ = _following_class(type(connection))
        return connection

    def all(self, initialized_only=False):
        # Each connection once, by its own alias: closing connections at the end of a request must
        # reach the main cluster's too, whichever `default` points at then.
        get = super().__getitem__
        return [
            get(alias) for alias in self
            if not initialized_only or hasattr(self._connections, alias)
        ]


def install() -> None:
    """Once per process (the AppConfig's `ready`): `default` follows the company."""
    from django import db

    db.connections.__class__ = _CompanyConnectionHandler
    # Connections opened before this (settings checks, say) follow too.
    for connection in db.connections.all(initialized_only=True):
        if hasattr(connection, "set_tenant") and not isinstance(connection, _FollowsTheCompany):
            connection.__class__ = _following_class(type(connection))


def add_database(alias: str, url: str) -> None:
    """Configure one more database at run time (tests; settings read DATABASE_SHARDS at start)."""
    connections.settings[alias] = database_settings(url, connections.settings[DEFAULT_DB_ALIAS])
    settings.COMPANY_DATABASES.append(alias)
    forget()


def remove_database(alias: str) -> None:
    connection = connections[alias]
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    del connections[alias]
    del connections.settings[alias]
    settings.COMPANY_DATABASES.remove(alias)
    forget()


def database_settings(url: str, main: dict) -> dict:
    """A shard's DATABASES entry: the main one's engine and options, the shard's server and name
    (as settings.py builds them from DATABASE_SHARDS)."""
    parsed = environ.Env.db_url_config(url)
    entry = copy.deepcopy(main)
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        entry[key] = parsed.get(key, "")
    entry["TEST"] = {"NAME": None, "MIRROR": None, "CHARSET": None, "COLLATION": None,
                     "MIGRATE": True}
    return entry


class CompanyDatabaseRouter:
    """The platform's models stay on the main cluster while `default` serves a company elsewhere."""

    def db_for_read(self, model, **hints):
        # Not while pinned: operator work on a database (its migrations, whose data migrations
        # write plans and such without naming an alias) means that database's own public schema.
        if model._meta.app_label in PLATFORM_APPS and getattr(_state, "pinned", None) is None \
                and getattr(_state, "current", DEFAULT_DB_ALIAS) != DEFAULT_DB_ALIAS:
            return PLATFORM
        return None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # django-tenants' router migrates the `default` alias only. While a run is pinned to another
        # database, `default` is that database: ask it the same question there.
        if db != DEFAULT_DB_ALIAS and db == getattr(_state, "pinned", None):
            verdict = TenantSyncRouter().allow_migrate(DEFAULT_DB_ALIAS, app_label, model_name, **hints)
            return verdict is not False  # its None (no objection) must not reach its "not default"
        return None

    def allow_relation(self, obj1, obj2, **hints):
        if obj1._meta.app_label in PLATFORM_APPS and obj2._meta.app_label in PLATFORM_APPS:
            return True  # the same tables, reached as `platform` or as `default`
        return None
