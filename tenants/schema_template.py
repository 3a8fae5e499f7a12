"""The template schema new companies are cloned from, and the clone: the template's DDL replayed.

django-tenants' clone_schema() reads the whole catalog on every call, so each clone got slower with
every company (0.8 s each for the first 50 companies, 3.0 s after 200). Here the template's definition
is read from the catalog through indexed lookups only (the objects that depend on its namespace in
pg_depend, then each relation's columns, constraints and indexes by oid), turned into one SQL script
once per template version (its applied migrations) per process, and replayed with `search_path` set to
the new schema inside the caller's transaction: a clone costs what the template holds, not what the
database holds, and a failure anywhere leaves nothing behind.

The script names the template's own objects unqualified, so they resolve to the new schema on replay;
anything outside it (`public.gin_trgm_ops`, a foreign key to a public table) is written qualified and
keeps pointing there. A template holding objects the script cannot express (views, functions, types,
triggers, policies, partitions…) is refused instead of being cloned incompletely.
"""

import hashlib
from collections import defaultdict
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import schema_exists

from tenants.models import validate_schema_name

# (database alias, template version) → script. Generating it is a few indexed catalog queries; the
# cache spares them on every clone of a process's life.
_scripts: dict[tuple[str, str], str] = {}


def template_schema_name() -> str:
    return settings.TENANT_BASE_SCHEMA


def migrate_template(*, verbosity: int = 1) -> None:
    """Create the template schema if missing and bring it to the latest tenant migrations."""
    name = template_schema_name()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command(
        "migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=verbosity,
    )


def template_version() -> str:
    """A digest of the migrations applied to the template schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT app, name FROM "{template_schema_name()}".django_migrations ORDER BY app, name'
        )
        rows = cursor.fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:32]


def clone_template(schema_name: str) -> None:
    """Create `schema_name` as a copy of the template: tables, sequences, indexes, constraints and rows
    (the migration records among them), all or nothing."""
    validate_schema_name(schema_name)
    if not schema_exists(template_schema_name()):
        raise ImproperlyConfigured(
            f"Template schema {template_schema_name()!r} is missing: run `manage.py migrate_schemas`."
        )
    script = template_script()
    with transaction.atomic(), _raw_cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
        with _search_path(cursor, schema_name):
            cursor.execute(script)


def template_script() -> str:
    """The template's script for its current version, generated on this process's first clone."""
    key = (connection.alias, template_version())
    script = _scripts.get(key)
    if script is None:
        script = _scripts[key] = generate_template_script()
    return script


@contextmanager
def _raw_cursor():
    """A cursor of the driver's connection, in the caller's transaction. Behind PgBouncer
    (`DB_PGBOUNCER`) the backend's own cursors prefix every statement with the connection's schema,
    which would undo the `search_path` set here for the template or the new schema; inside the
    transaction, this SET LOCAL holds on its one server connection."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        yield cursor  # the driver's errors raised as Django's (DatabaseError…), as from any cursor


@contextmanager
def _search_path(cursor, schema: str):
    """`search_path` is `schema` alone inside the block, then back to what it was.

    SET LOCAL inside the caller's transaction (a savepoint of it): on an error the rollback restores
    the previous path, so nothing is reset here then (the aborted transaction would refuse it).
    """
    cursor.execute("SELECT current_setting('search_path')")
    previous = cursor.fetchone()[0]
    cursor.execute("SELECT set_config('search_path', quote_ident(%s), true)", [schema])
    yield
    cursor.execute("SELECT set_config('search_path', %s, true)", [previous])


def generate_template_script() -> str:
    """Read the template's definition from the catalog and write it as SQL (see the module's doc)."""
    template = template_schema_name()
    with transaction.atomic(), _raw_cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [template])
        row = cursor.fetchone()
        if row is None:
            raise ImproperlyConfigured(f"Template schema {template!r} is missing.")
        with _search_path(cursor, template):
            return _Catalog(cursor, row[0]).script()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Catalog:
    """The template's catalog rows, read with the template alone on `search_path`."""

    def __init__(self, cursor, namespace_oid: int):
        self.cursor = cursor
        self.namespace = namespace_oid

    def _rows(self, sql: str, params=None) -> list[tuple]:
        self.cursor.execute(sql, params)
        return self.cursor.fetchall()

    def script(self) -> str:
        tables, sequences = self._relations()
        self._refuse_unsupported_table_features(tables)
        table_oids = list(tables)
        columns = self._columns(table_oids)
        constraints = self._constraints(table_oids)
        seqs = self._sequences(sequences)
        identity = {(s["table"], s["column"]): s for s in seqs if s["deptype"] == "i"}

        statements = [self._create_sequence(s) for s in seqs if s["deptype"] != "i"]
        for oid, (name, persistence, options) in tables.items():
            parts = [self._column(col, identity.get((oid, col["attnum"]))) for col in columns[oid]]
            parts += [f"CONSTRAINT {c['name']} {c['definition']}" for c in constraints[oid]
                      if c["type"] in "pux" or (c["type"] == "c" and c["validated"])]
            unlogged = "UNLOGGED " if persistence == "u" else ""
            with_options = f" WITH ({', '.join(options)})" if options else ""
            body = ",\n  ".join(parts)
            statements.append(f"CREATE {unlogged}TABLE {name} (\n  {body}\n){with_options}")
        for s in seqs:
            if s["deptype"] == "a":
                table = tables[s["table"]][0]
                column = next(c["name"] for c in columns[s["table"]] if c["attnum"] == s["column"])
                statements.append(f"ALTER SEQUENCE {s['name']} OWNED BY {table}.{column}")
        statements += self._data(tables, columns)
        setvals = [f"setval({_literal(s['name'])}, {s['last_value']}, true)" for s in seqs
                   if s["last_value"] is not None]
        if setvals:
            statements.append("SELECT " + ", ".join(setvals))
        statements += self._indexes(table_oids)
        # Foreign keys last, once every table they point at exists; unvalidated checks must be added.
        for oid, (name, _persistence, _options) in tables.items():
            statements += [f"ALTER TABLE {name} ADD CONSTRAINT {c['name']} {c['definition']}"
                           for c in constraints[oid]
                           if c["type"] == "f" or (c["type"] == "c" and not c["validated"])]
        return ";\n".join(statements) + ";\n"

    def _relations(self) -> tuple[dict, list[int]]:
        # Every object created in a schema records a dependency on it: one indexed lookup finds them.
        rows = self._rows(
            """
            SELECT d.classid::regclass::text, d.objid, c.relkind, quote_ident(c.relname),
                   c.relpersistence, c.reloptions, pg_describe_object(d.classid, d.objid, 0)
            FROM pg_depend d
            LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
            WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %s
            ORDER BY c.relname
            """,
            [self.namespace],
        )
        tables, sequences, unsupported = {}, [], []
        for classid, objid, relkind, name, persistence, options, description in rows:
            if classid == "pg_class" and relkind == "r":
                tables[objid] = (name, persistence, options or [])
            elif classid == "pg_class" and relkind == "S":
                sequences.append(objid)
            else:
                unsupported.append(description)
        if unsupported:
            raise ImproperlyConfigured(
                "The template schema holds objects a clone cannot copy: " + ", ".join(sorted(unsupported))
            )
        return tables, sequences

    def _refuse_unsupported_table_features(self, tables: dict) -> None:
        rows = self._rows(
            """
            SELECT c.oid::regclass::text FROM pg_class c
            WHERE c.oid = ANY(%s) AND (
                c.relrowsecurity OR c.relispartition
                OR EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
                OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid)
                OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
                OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid))
            """,
            [list(tables)],
        )
        if rows:
            raise ImproperlyConfigured(
                "Template tables with triggers, rules, row security or inheritance cannot be cloned: "
                + ", ".join(sorted(r[0] for r in rows))
            )

    def _columns(self, table_oids: list[int]) -> dict[int, list[dict]]:
        rows = self._rows(
            """
            SELECT a.attrelid, a.attnum, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid),
                   CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END
            FROM pg_attribute a
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum
            """,
            [table_oids],
        )
        columns = defaultdict(list)
        for relid, attnum, name, type_, notnull, identity, generated, default, collation in rows:
            columns[relid].append({
                "attnum": attnum, "name": name, "type": type_, "notnull": notnull,
                "identity": identity, "generated": generated, "default": default, "collation": collation,
            })
        return columns

    def _column(self, col: dict, sequence: dict | None) -> str:
        sql = f"{col['name']} {col['type']}"
        if col["collation"]:
            sql += f" COLLATE {col['collation']}"
        if col["generated"] == "s":
            sql += f" GENERATED ALWAYS AS ({col['default']}) STORED"
        elif col["default"] is not None:
            sql += f" DEFAULT {col['default']}"
        if col["identity"]:
            kind = "ALWAYS" if col["identity"] == "a" else "BY DEFAULT"
            sql += f" GENERATED {kind} AS IDENTITY ({self._sequence_options(sequence, with_name=True)})"
        if col["notnull"]:
            sql += " NOT NULL"
        return sql

    def _constraints(self, table_oids: list[int]) -> dict[int, list[dict]]:
        rows = self._rows(
            """
            SELECT conrelid, quote_ident(conname), contype, convalidated, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE conrelid = ANY(%s) AND contype IN ('p', 'u', 'x', 'c', 'f')
            ORDER BY conrelid, contype, conname
            """,
            [table_oids],
        )
        constraints = defaultdict(list)
        for relid, name, type_, validated, definition in rows:
            constraints[relid].append({"name": name, "type": type_, "validated": validated,
                                       "definition": definition})
        return constraints

    def _sequences(self, sequence_oids: list[int]) -> list[dict]:
        rows = self._rows(
            """
            SELECT c.oid, quote_ident(c.relname), format_type(s.seqtypid, NULL), s.seqstart,
                   s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                   pg_sequence_last_value(c.oid), dep.deptype, dep.refobjid, dep.refobjsubid
            FROM pg_class c
            JOIN pg_sequence s ON s.seqrelid = c.oid
            LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                 AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
            WHERE c.oid = ANY(%s)
            ORDER BY c.relname
            """,
            [sequence_oids],
        )
        keys = ("oid", "name", "type", "start", "increment", "min", "max", "cache", "cycle",
                "last_value", "deptype", "table", "column")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    @staticmethod
    def _sequence_options(s: dict, *, with_name: bool) -> str:
        name = f"SEQUENCE NAME {s['name']} " if with_name else ""
        cycle = "CYCLE" if s["cycle"] else "NO CYCLE"
        return (f"{name}START WITH {s['start']} INCREMENT BY {s['increment']} MINVALUE {s['min']} "
                f"MAXVALUE {s['max']} CACHE {s['cache']} {cycle}")

    def _create_sequence(self, s: dict) -> str:
        return f"CREATE SEQUENCE {s['name']} AS {s['type']} {self._sequence_options(s, with_name=False)}"

    def _indexes(self, table_oids: list[int]) -> list[str]:
        # Indexes of primary keys, unique and exclusion constraints come with their constraint.
        rows = self._rows(
            """
            SELECT pg_get_indexdef(i.indexrelid), quote_ident(n.nspname) || '.' || quote_ident(t.relname),
                   quote_ident(t.relname)
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE i.indrelid = ANY(%s) AND NOT EXISTS (
                SELECT 1 FROM pg_constraint k
                WHERE k.conrelid = i.indrelid AND k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
            ORDER BY c.relname
            """,
            [table_oids],
        )
        statements = []
        for definition, qualified, table in rows:
            # pg_get_indexdef() always qualifies the indexed table, whatever the search_path.
            head, on, tail = definition.partition(f" ON {qualified} USING ")
            if not on:
                raise ImproperlyConfigured(f"Unexpected index definition: {definition}")
            statements.append(f"{head} ON {table} USING {tail}")
        return statements

    def _data(self, tables: dict, columns: dict) -> list[str]:
        """The template's rows (migration records, content types, permissions) as INSERTs."""
        if not tables:
            return []
        selects = [f"SELECT {oid}::oid, quote_literal(json_agg(t)::text) FROM {name} t"
                   for oid, (name, _persistence, _options) in tables.items()]
        statements = []
        for oid, rows in self._rows(" UNION ALL ".join(selects)):
            if rows is None:
                continue
            name = tables[oid][0]
            names = ", ".join(c["name"] for c in columns[oid] if not c["generated"])
            statements.append(
                f"INSERT INTO {name} ({names}) OVERRIDING SYSTEM VALUE "
                f"SELECT {names} FROM json_populate_recordset(NULL::{name}, {rows})"
            )
        return statements
