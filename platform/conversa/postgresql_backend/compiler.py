"""Django's PostgreSQL compilers, with bulk inserts through UNNEST also for tables with text arrays.

Django inserts many rows as `SELECT * FROM UNNEST(%s::bigint[], %s::text[], …)`: one placeholder
per column, so the statement is short, psycopg's client-side binding parses it from its cache and
PostgreSQL plans it once. It falls back to `VALUES (%s, …), (%s, …)` (a placeholder per value)
as soon as one column is an array, because UNNEST flattens an array of arrays. Contacts (`tags`)
and conversations (`labels`) both have one, so the webhook drain's inserts of new customers were
its most expensive statements: most of their time went to Django compiling and psycopg splitting
a query of thousands of placeholders.

Here a one-dimensional text array column travels as one array literal per row (`{"a","b"}`) in a
`text[]`, and the SELECT casts each literal back to an array of the column's type:

    INSERT INTO t (name, tags) SELECT c0, c1::varchar[] FROM UNNEST(%s::varchar[], %s::text[]) AS u(c0, c1)

Anything else Django's own rule declines (expressions, other array types) still takes `VALUES`.
"""

from django.contrib.postgres.fields import ArrayField
from django.db.backends.postgresql.compiler import (  # noqa: F401 (the module Django loads by name)
    InsertUnnest,
    SQLAggregateCompiler,
    SQLCompiler,
    SQLDeleteCompiler,
    SQLUpdateCompiler,
)
from django.db.backends.postgresql.compiler import SQLInsertCompiler as PostgresInsertCompiler

_TEXT_TYPES = frozenset({"CharField", "TextField"})


class InsertUnnestWithCasts(InsertUnnest):
    """UNNEST's arguments, and per column the type its values are cast to in the SELECT (or None)."""

    def __init__(self, arguments: list[str], casts: list[str | None]):
        super().__init__(arguments)
        self.casts = casts

    def select_sql(self) -> str:
        columns = [f"c{i}::{cast}" if cast else f"c{i}" for i, cast in enumerate(self.casts)]
        aliases = ", ".join(f"c{i}" for i in range(len(self.casts)))
        return f"SELECT {', '.join(columns)} FROM {self} AS u({aliases})"


def _is_text_array(field) -> bool:
    return (
        isinstance(field, ArrayField)
        and not isinstance(field.base_field, ArrayField)
        and field.base_field.get_internal_type() in _TEXT_TYPES
    )


def array_literal(values) -> str | None:
    """PostgreSQL's text form of a one-dimensional array of strings (None: NULL)."""
    if values is None:
        return None
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        else:
            items.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


def _literal_ready(values) -> bool:
    return values is None or (
        isinstance(values, list | tuple) and all(value is None or isinstance(value, str) for value in values)
    )


class SQLInsertCompiler(PostgresInsertCompiler):
    def assemble_as_sql(self, fields, value_rows):
        arrays = [index for index, field in enumerate(fields) if field is not None and _is_text_array(field)]
        if (
            not arrays
            or len(value_rows) <= 1
            or any(field is None for field in fields)
            # As Django's rule, for the other columns.
            or any(hasattr(field, "get_placeholder") for i, field in enumerate(fields) if i not in arrays)
            or any(
                (field.target_field if field.is_relation else field).get_internal_type()
                not in self.connection.data_types
                for i, field in enumerate(fields) if i not in arrays
            )
            or any(any(hasattr(value, "as_sql") for value in row) for row in value_rows)
            or not all(_literal_ready(row[index]) for row in value_rows for index in arrays)
        ):
            return super().assemble_as_sql(fields, value_rows)
        arguments, casts = [], []
        for index, field in enumerate(fields):
            if index in arrays:
                arguments.append("(%s)::text[]")
                # varchar[], not varchar(50)[]: an explicit cast would cut a value too long silently,
                # where the insert's assignment to the column refuses it.
                casts.append(field.base_field.db_type(self.connection).split("(")[0] + "[]")
            else:
                # Without the type's parameters, as Django: varchar[] rather than varchar(50)[].
                arguments.append(f"(%s)::{field.db_type(self.connection).split('(')[0]}[]")
                casts.append(None)
        columns = [list(column) for column in zip(*value_rows, strict=True)]
        for index in arrays:
            columns[index] = [array_literal(values) for values in columns[index]]
        return InsertUnnestWithCasts(arguments, casts), [columns]
