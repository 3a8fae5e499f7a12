"""A schema's definition and rows as plain data, to compare a clone with the template it came from.

Read with the schema alone on `search_path`, so that its own objects print unqualified in defaults,
constraints and indexes: a clone whose foreign key or default still pointed at the template's
objects would print `tenant_template.…` there and differ.
"""

from django.db import connection, transaction


def schema_snapshot(schema: str) -> dict:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('search_path', quote_ident(%s), true)", [schema])
        snapshot = _read(cursor, schema)
        cursor.execute("SELECT set_config('search_path', %s, true)", [previous])
    return snapshot


def _all(cursor, sql: str, params) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _read(cursor, schema: str) -> dict:
    relations = _all(cursor, """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions FROM pg_class c
        WHERE c.relnamespace = %s::regnamespace AND c.relkind NOT IN ('i', 't')""", [schema])
    columns = _all(cursor, """
        SELECT c.relname, a.attname,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
               format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
               pg_get_expr(d.adbin, d.adrelid), a.attcollation::regcollation::text,
               pg_get_serial_sequence(quote_ident(c.relname), a.attname)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped""", [schema])
    sequences = _all(cursor, """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle, pg_sequence_last_value(c.oid)
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        WHERE c.relnamespace = %s::regnamespace""", [schema])
    constraints = _all(cursor, """
        SELECT c.relname, k.conname, k.contype, k.convalidated, k.condeferrable, k.condeferred,
               pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE c.relnamespace = %s::regnamespace""", [schema])
    indexes = _all(cursor, """
        SELECT t.relname, c.relname, i.indisunique, i.indisprimary, i.indisvalid,
               pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relnamespace = %s::regnamespace""", [schema])
    qualified = f"{_ident(cursor, schema)}."
    rows = {}
    for (table,) in _all(cursor, """SELECT quote_ident(relname) FROM pg_class
                                    WHERE relnamespace = %s::regnamespace AND relkind = 'r'""", [schema]):
        cursor.execute(f"SELECT coalesce(json_agg(t ORDER BY t::text), '[]')::text FROM {table} t")
        rows[table] = cursor.fetchone()[0]
    return {
        "relations": sorted(relations, key=repr),
        # The serial sequence of a column, without its schema: compared apart, see `sequences_of`.
        "columns": sorted((row[:-1] + (_unqualified(row[-1], qualified),) for row in columns), key=repr),
        "sequences": sorted(sequences, key=repr),
        "constraints": sorted(constraints, key=repr),
        # pg_get_indexdef() qualifies the indexed table whatever the search_path.
        "indexes": sorted((row[:-1] + (row[-1].replace(f" ON {qualified}", " ON "),) for row in indexes),
                          key=repr),
        "rows": rows,
    }


def _ident(cursor, name: str) -> str:
    cursor.execute("SELECT quote_ident(%s)", [name])
    return cursor.fetchone()[0]


def _unqualified(name: str | None, qualified_prefix: str) -> str | None:
    return name.removeprefix(qualified_prefix) if name else name


def sequences_of(schema: str) -> dict[str, str]:
    """{table.column: its serial or identity sequence, schema-qualified} for the schema's tables."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname || '.' || a.attname,
                   pg_get_serial_sequence(quote_ident(%s) || '.' || quote_ident(c.relname), a.attname)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attnum > 0
              AND NOT a.attisdropped AND a.attidentity <> ''""", [schema, schema])
        return dict(cursor.fetchall())


def differences(template: dict, clone: dict, *, clone_schema: str, template_schema: str,
                definition_only: bool = False) -> list[str]:
    """What differs between two snapshots; [] when the clone is the template.

    `definition_only` leaves out the rows and the sequences' positions: a company in use has its own.

    An index definition is compared as PostgreSQL reads it back: it prints some predicates in a form
    that parses to another (`x = ANY ((ARRAY['a'::varchar])::text[])` comes back with the cast inside
    the array), so every copy made from printed DDL (pg_dump's too) holds the re-read form, equal in
    meaning. Only definitions that differ as printed are re-read, each in a rolled-back savepoint.
    """
    found = []
    parts = ("relations", "columns", "constraints") if definition_only else (
        "relations", "columns", "sequences", "constraints", "rows")
    for part in parts:
        if clone[part] != template[part]:
            found.append(part)
    if definition_only and [s[:-1] for s in clone["sequences"]] != [s[:-1] for s in template["sequences"]]:
        found.append("sequences")
    template_indexes = {row[:2]: row for row in template["indexes"]}
    clone_indexes = {row[:2]: row for row in clone["indexes"]}
    if template_indexes.keys() != clone_indexes.keys():
        found.append(f"indexes {sorted(template_indexes.keys() ^ clone_indexes.keys())}")
    for key in template_indexes.keys() & clone_indexes.keys():
        ours, theirs = template_indexes[key], clone_indexes[key]
        if ours == theirs:
            continue
        if ours[:-1] != theirs[:-1] or (_read_back(template_schema, ours[-1])
                                         != _read_back(clone_schema, theirs[-1])):
            found.append(f"index {key}: {ours[-1]} != {theirs[-1]}")
    return found


def _read_back(schema: str, definition: str) -> str:
    """`definition` (printed with `schema` on the search_path) created again and printed again."""
    name = definition.split(" ON ", 1)[0].rsplit(" ", 1)[1]
    probe = definition.replace(f" {name} ON ", " zz_read_back_probe ON ", 1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('search_path', quote_ident(%s), true)", [schema])
        cursor.execute(probe)
        cursor.execute("SELECT pg_get_indexdef('zz_read_back_probe'::regclass)")
        printed = cursor.fetchone()[0]
        transaction.set_rollback(True)
    return printed.replace(" zz_read_back_probe ON ", " ON ", 1).replace(f" ON {schema}.", " ON ", 1)
