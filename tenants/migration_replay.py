"""A release's migrations applied to many company schemas at the cost of their statements.

django-tenants runs Django's `migrate` once per schema. Each visit loads the migration graph, renders
the project state of every applied migration and sends the post_migrate signals before a statement of
the release runs: about 0.7 s per schema, two hours for a one-column release at 10,000 companies.
Schemas that hold the same migrations need the same statements, so here each group of them (the same
migrations stamp) has one schema migrated for real by Django's executor, the pilot, with signals and
all, while its SQL is written once as `sqlmigrate` would. Every other schema of the group then gets,
in one transaction of its own: those statements, the migration records the pilot received, and the
content types and permissions the pilot's post_migrate created.

Replaying is only done where it gives what `migrate` would:
- a schema whose applied migrations differ from the pilot's (checked inside its transaction) goes
  through Django's executor;
- so does every schema of a group whose release holds an operation that cannot be written as SQL
  (RunPython, also inside SeparateDatabaseAndState), a RenameModel (Django renames its content type
  from a pre_migrate hook), a non-atomic migration, or when a post_migrate receiver other than those
  of contenttypes and auth is installed (whose writes could not be known).
"""

import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connection, connections, migrations, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import post_migrate

from tenants import databases

# The post_migrate receivers whose writes the replay carries: content types and permissions.
_KNOWN_POST_MIGRATE = {
    "django.contrib.contenttypes.management.create_contenttypes",
    "django.contrib.auth.management.create_permissions",
}


@dataclass
class Release:
    """What one group's schemas receive: statements, then rows."""

    applied_before: frozenset[tuple[str, str]]
    statements: list[str]
    migration_records: list[tuple[str, str]]
    content_types: list[tuple[str, str]]
    permissions: list[tuple[str, str, str, str]]  # app_label, model, codename, name


def migrate_schemas(
    groups: dict[str, list[str]],
    run_with_executor: Callable[[list[str]], None],
    *,
    workers: int = 1,
    on_migrated: Callable[[list[str]], None] = lambda schemas: None,
    write: Callable[[str], None] = lambda line: None,
) -> None:
    """Bring every schema of `groups` (stamp → schema names) to the code's migrations.

    `run_with_executor(schemas)` migrates schemas the Django way; `on_migrated(schemas)` is told of
    each batch that is done (to stamp it).
    """
    for schemas in groups.values():
        if not schemas:
            continue
        pilot, others = schemas[0], schemas[1:]
        release = _release_of(pilot, run_with_executor)
        on_migrated([pilot])
        if release is None:
            write(f"{len(others)} schema(s) migrated by Django's executor (not replayable)")
            if others:
                run_with_executor(others)
                on_migrated(others)
            continue
        write(f"{len(release.statements)} statement(s) replayed in {len(others)} schema(s) "
              f"like {pilot}")
        differ = _replay_all(release, others, workers=workers, on_migrated=on_migrated, write=write)
        if differ:
            write(f"{len(differ)} schema(s) hold other migrations: Django's executor migrates them")
            run_with_executor(differ)
            on_migrated(differ)


def _release_of(pilot: str, run_with_executor: Callable[[list[str]], None]) -> Release | None:
    """Migrate the pilot for real; its statements and new rows when the others may replay them."""
    connection.set_schema(pilot)
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    replayable = _replayable(plan)
    statements = _statements(executor, plan) if replayable else []
    before = _rows()
    connection.set_schema_to_public()
    run_with_executor([pilot])
    if not replayable:
        return None
    connection.set_schema(pilot)
    after = _rows()
    connection.set_schema_to_public()
    return Release(
        applied_before=frozenset(before["migrations"]),
        statements=statements,
        migration_records=sorted(after["migrations"] - before["migrations"]),
        content_types=sorted(after["content_types"] - before["content_types"]),
        permissions=sorted(after["permissions"] - before["permissions"]),
    )


def _replayable(plan) -> bool:
    if not _post_migrate_writes_are_known():
        return False
    for migration, backwards in plan:
        if backwards or not migration.atomic:
            return False
        if not all(_operation_replayable(operation) for operation in migration.operations):
            return False
    return True


def _operation_replayable(operation) -> bool:
    if not operation.reduces_to_sql or isinstance(operation, migrations.RenameModel):
        return False
    if isinstance(operation, migrations.SeparateDatabaseAndState):
        return all(_operation_replayable(inner) for inner in operation.database_operations)
    return True


def _post_migrate_writes_are_known() -> bool:
    for _key, receiver, *_ in post_migrate.receivers:
        function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        name = function and f"{function.__module__}.{function.__qualname__}"
        if name is not None and name not in _KNOWN_POST_MIGRATE:
            return False
    return True


def _statements(executor: MigrationExecutor, plan) -> list[str]:
    """The plan's SQL as `sqlmigrate` writes it, without its comment lines."""
    collected = executor.loader.collect_sql(plan)
    return [sql for sql in collected
            if any(line.strip() and not line.lstrip().startswith("--") for line in sql.splitlines())]


def _rows() -> dict[str, set[tuple]]:
    """The current schema's migration records, content types and permissions."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        migrations_applied = set(cursor.fetchall())
        cursor.execute("SELECT app_label, model FROM django_content_type")
        content_types = set(cursor.fetchall())
        cursor.execute(
            "SELECT ct.app_label, ct.model, p.codename, p.name FROM auth_permission p "
            "JOIN django_content_type ct ON ct.id = p.content_type_id"
        )
        permissions = set(cursor.fetchall())
    return {"migrations": migrations_applied, "content_types": content_types, "permissions": permissions}


def _replay_all(release: Release, schemas: list[str], *, workers: int,
                on_migrated: Callable[[list[str]], None], write: Callable[[str], None]) -> list[str]:
    """Replay in `workers` threads (a connection each); the schemas that hold other migrations."""
    if workers <= 1 or len(schemas) < 2:
        try:
            return _replay_chunk(release, schemas, on_migrated, write)
        finally:
            connection.set_schema_to_public()
    alias = databases.current()

    def replay_in_thread(chunk: list[str]) -> list[str]:
        # A new thread's `default` is the main cluster: it follows this run's database as this one does.
        with databases.pinned(alias) if alias != DEFAULT_DB_ALIAS else nullcontext():
            try:
                return _replay_chunk(release, chunk, on_migrated, write)
            finally:
                for each in connections.all(initialized_only=True):
                    each.close()

    chunks = [chunk for chunk in (schemas[i::workers] for i in range(workers)) if chunk]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate-replay") as pool:
        return [schema for differ in pool.map(replay_in_thread, chunks) for schema in differ]


def _replay_chunk(release: Release, schemas: Iterable[str], on_migrated: Callable[[list[str]], None],
                  write: Callable[[str], None], batch: int = 200) -> list[str]:
    differ, done = [], []
    for schema in schemas:
        if _replay(release, schema):
            done.append(schema)
            write(f"[replay:{schema}] done")
        else:
            differ.append(schema)
        if len(done) >= batch:
            on_migrated(done)
            done = []
    if done:
        on_migrated(done)
    return differ


def _replay(release: Release, schema: str) -> bool:
    """The release in `schema`, all or nothing; False (and nothing done) if it holds other migrations."""
    connection.set_schema(schema)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        if frozenset(cursor.fetchall()) != release.applied_before:
            return False
        for statement in release.statements:
            cursor.execute(statement)
        if release.migration_records:
            cursor.execute(
                "INSERT INTO django_migrations (app, name, applied) "
                "SELECT app, name, now() FROM unnest(%s::text[], %s::text[]) AS r(app, name)",
                [[app for app, _ in release.migration_records],
                 [name for _, name in release.migration_records]],
            )
        if release.content_types:
            cursor.execute(
                "INSERT INTO django_content_type (app_label, model) "
                "SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING",
                [[app for app, _ in release.content_types], [model for _, model in release.content_types]],
            )
        if release.permissions:
            columns = list(zip(*release.permissions, strict=True))
            cursor.execute(
                "INSERT INTO auth_permission (name, content_type_id, codename) "
                "SELECT p.name, ct.id, p.codename "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
                "AS p(app_label, model, codename, name) "
                "JOIN django_content_type ct USING (app_label, model) ON CONFLICT DO NOTHING",
                [list(column) for column in columns],
            )
    return True

