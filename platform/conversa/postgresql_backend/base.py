"""django-tenants' PostgreSQL backend, made safe behind a pooler in transaction mode (PgBouncer).

django-tenants selects a company with a session-level `SET search_path` issued once per connection
(and again after a tenant switch). Behind PgBouncer in transaction pooling mode a client keeps a
server connection only for one transaction: the SET and the next query may run on different server
connections, and the SET stays on its server connection for whichever client gets it next, so one
company's query can read another's tables. With `TRANSACTION_POOLING` true in the database alias
(the `DB_PGBOUNCER` setting) this backend never issues a session-level SET: every statement carries
its own `SET LOCAL search_path` in the same simple-protocol message, so both run in one transaction
(an explicit one, or the implicit block PostgreSQL makes of a multi-statement query in autocommit),
on one server connection, and the setting ends with that transaction. It costs no round trip.

Without `TRANSACTION_POOLING` the backend is django-tenants' own.
"""

import re

from django.core.exceptions import ImproperlyConfigured
from django.db import NotSupportedError
from django.db.backends.postgresql import base as postgresql_base
from django.db.backends.postgresql.creation import DatabaseCreation as PostgresDatabaseCreation
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresDatabaseOperations
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import get_public_schema_name, quote_schema_name
from psycopg import pq, sql

from conversa.postgresql_backend.compiler import InsertUnnestWithCasts

# Statements PostgreSQL refuses inside a transaction block, so they cannot carry a SET LOCAL in the
# same message. They run alone, on whatever search_path the server connection has: only correct
# for the public schema, whose objects the default search_path finds.
_RUNS_OUTSIDE_TRANSACTIONS = re.compile(
    r"\s*(?:(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)|ALTER\s+SYSTEM|VACUUM|REINDEX\s+(?:SYSTEM|DATABASE)"
    r"|CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY"
    r"|REINDEX\b[^;]*\bCONCURRENTLY|ALTER\s+TABLE\b[^;]*\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY)\b",
    re.IGNORECASE,
)


class TransactionPoolingCursor(postgresql_base.Cursor):
    """Django's client-side binding cursor, prefixing every statement with the connection's
    `SET LOCAL search_path` (see the module docstring).

    A cursor made by the wrapper knows it (`wrapper`); one made directly on the psycopg connection
    (Django's time zone setup, for one) runs its statements as they are.
    """

    wrapper = None

    def _set_local(self, query) -> str | None:
        if self.wrapper is None:
            return None
        statement = self.wrapper.search_path_statement()
        if isinstance(query, bytes):
            query = query.decode()
        if isinstance(query, str) and _RUNS_OUTSIDE_TRANSACTIONS.match(query):
            if self.wrapper.schema_name != get_public_schema_name():
                raise NotSupportedError(
                    "This statement cannot run in a transaction, so behind a transaction pooler it "
                    f"cannot carry the search_path of schema {self.wrapper.schema_name!r}; run it "
                    "on a direct connection to PostgreSQL (DB_PGBOUNCER=false).")
            return None
        return statement

    def execute(self, query, params=None, **kwargs):
        set_local = self._set_local(query)
        if set_local is None:
            return super().execute(query, params, **kwargs)
        if params is not None:
            set_local = set_local.replace("%", "%%")  # the prefix goes through the placeholder parser
        if isinstance(query, sql.Composable):
            query = sql.Composed([sql.SQL(set_local), query])
        elif isinstance(query, bytes):
            query = set_local.encode() + query
        else:
            query = set_local + query
        super().execute(query, params, **kwargs)
        # The SET's result comes first; what the caller fetches, counts and describes is its query's.
        self.nextset()
        return self

    def executemany(self, query, params_seq, **kwargs):
        set_local = self._set_local(query)
        if set_local is None:
            return super().executemany(query, params_seq, **kwargs)
        # psycopg may pipeline the batch (extended protocol: one statement per message), so the
        # SET LOCAL goes first on its own, in a transaction that holds the server connection.
        connection = self.connection
        if connection.autocommit and connection.info.transaction_status == pq.TransactionStatus.IDLE:
            with connection.transaction():
                super().execute(set_local)
                return super().executemany(query, params_seq, **kwargs)
        super().execute(set_local)
        return super().executemany(query, params_seq, **kwargs)


_SET_LOCAL_PREFIX = re.compile(r"^SET LOCAL search_path TO [^;]*; ")


class DatabaseOperations(PostgresDatabaseOperations):
    # Bulk inserts through UNNEST also for tables with text arrays (see that module).
    compiler_module = "conversa.postgresql_backend.compiler"

    def bulk_insert_sql(self, fields, placeholder_rows):
        if isinstance(placeholder_rows, InsertUnnestWithCasts):
            return placeholder_rows.select_sql()
        return super().bulk_insert_sql(fields, placeholder_rows)

    def last_executed_query(self, cursor, sql, params):
        # The statement as the caller wrote it (connection.queries, logs, assertNumQueries' output),
        # not with the prefix it was sent with.
        query = super().last_executed_query(cursor, sql, params)
        return _SET_LOCAL_PREFIX.sub("", query, count=1) if query else query


class DatabaseCreation(PostgresDatabaseCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        if not self.connection.transaction_pooling:
            return super()._destroy_test_db(test_database_name, verbosity)
        # The pooler keeps idle server connections to the test database, which a plain DROP
        # DATABASE would wait for in vain ("being accessed by other users").
        with self._nodb_cursor() as cursor:
            name = self.connection.ops.quote_name(test_database_name)
            cursor.execute(f"DROP DATABASE {name} WITH (FORCE)")


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    creation_class = DatabaseCreation
    ops_class = DatabaseOperations

    def __init__(self, settings_dict, *args, **kwargs):
        self.transaction_pooling = bool(settings_dict.get("TRANSACTION_POOLING"))
        self._search_path_statements: dict[tuple, str] = {}
        super().__init__(settings_dict, *args, **kwargs)

    def get_connection_params(self):
        params = super().get_connection_params()
        if self.transaction_pooling:
            if self.settings_dict["OPTIONS"].get("server_side_binding") is True:
                # Server-side binding sends one statement per message (extended protocol), which
                # could not carry the SET LOCAL.
                raise ImproperlyConfigured("TRANSACTION_POOLING needs client-side binding "
                                           "(no server_side_binding).")
            if params.get("prepare_threshold") is not None:
                # PgBouncer before 1.21 does not track prepared statements across server connections.
                raise ImproperlyConfigured("TRANSACTION_POOLING needs prepared statements off "
                                           "(prepare_threshold None).")
            params["cursor_factory"] = TransactionPoolingCursor
        return params

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if self.transaction_pooling and name is None:
            cursor.wrapper = self
        return cursor

    def search_path_statement(self) -> str:
        """`SET LOCAL search_path TO …; ` for the schema selected now (validated by django-tenants)."""
        key = (self.schema_name, self.include_public_schema)
        statement = self._search_path_statements.get(key)
        if statement is None:
            paths = ", ".join(quote_schema_name(path) for path in self._get_cursor_search_paths())
            statement = self._search_path_statements[key] = f"SET LOCAL search_path TO {paths}; "
        return statement

    def _handle_search_path(self, cursor=None):
        if not self.transaction_pooling:
            return super()._handle_search_path(cursor)
        if cursor is None:
            # A named (server-side) cursor is about to DECLARE, which cannot carry a prefix; it is
            # made only inside a transaction here (`chunked_cursor`), where a SET LOCAL now holds
            # until its DECLARE. (A cursor of the psycopg connection itself: no wrapper, no prefix.)
            with self.connection.cursor() as plain:
                plain.execute(self.search_path_statement())

    def chunked_cursor(self):
        if self.transaction_pooling and self.get_autocommit():
            # A server-side cursor outside a transaction is WITH HOLD: it lives on a server
            # connection that the pooler gives to other clients between fetches. Rows come in one
            # result instead, like with DISABLE_SERVER_SIDE_CURSORS; inside atomic() they stream.
            return self._cursor()
        return super().chunked_cursor()
