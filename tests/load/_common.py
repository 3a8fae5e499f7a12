"""Shared plumbing of the load benchmarks: a throwaway database, Django set-up, output, statistics.

The benchmarks never touch the developer's database: they create their own (`conversa_bench…`),
point DATABASE_URL at it before Django is set up, and drop it at the end unless `--keep`.
Run them from anywhere with the project's interpreter, e.g. `.venv/bin/python tests/load/provision.py`.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")

PASSWORD = "bench-password-123"
DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*bench[a-z0-9_]*$")


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def add_db_arguments(parser: argparse.ArgumentParser, default_db: str) -> None:
    parser.add_argument(
        "--server", default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database name (env BENCH_PG_SERVER)",
    )
    parser.add_argument("--db", default=default_db,
                        help=f"benchmark database; its name must contain 'bench' (default {default_db})")
    parser.add_argument("--keep", action="store_true",
                        help="reuse the database if it exists and do not drop it at the end")


def _admin_connection(server: str):
    import psycopg

    return psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True)


def _check_db_name(db: str) -> None:
    if not DB_NAME_RE.match(db):
        raise SystemExit(f"refusing to use database {db!r}: its name must contain 'bench'")


def prepare_database(server: str, db: str, *, keep: bool) -> bool:
    """Create the benchmark database (dropping an old one unless `keep`); True if it was new."""
    _check_db_name(db)
    with _admin_connection(server) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if exists and keep:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    return True


def drop_database(server: str, db: str) -> None:
    _check_db_name(db)
    from django.db import connections

    connections.close_all()
    with _admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def configure_environment(server: str, db: str) -> None:
    """Environment of this process and of the `manage.py` subprocesses it starts.

    Set before Django reads its settings; the repo's `.env` is read with overwrite=False, so these
    values win over it.
    """
    os.environ["DATABASE_URL"] = f"{server.rstrip('/')}/{db}"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-real-deployment-0123456789")
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["HUEY_IMMEDIATE"] = "true"
    os.environ["SENTRY_DSN"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Keep our Redis keys and channel groups apart from a development server's.
    os.environ["REDIS_KEY_PREFIX"] = "conversa-bench"
    os.environ["CHANNEL_LAYER_PREFIX"] = "conversa-bench"
    os.environ["HUEY_NAME"] = "conversa-bench"


def setup_django(*, migrate: bool) -> float:
    """django.setup(), then (if asked) migrate_schemas; returns the migration's seconds."""
    import django

    django.setup()
    if not migrate:
        return 0.0
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate_schemas", verbosity=0, interactive=False, stdout=StringIO())
    return time.perf_counter() - started


def template_context() -> str:
    """What a clone copies: the template's tables, indexes and applied migrations."""
    from django.conf import settings
    from django.db import connection

    template = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [template]
        )
        tables = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = %s", [template])
        indexes = cursor.fetchone()[0]
        cursor.execute(f'SELECT count(*) FROM "{template}".django_migrations')
        migrations = cursor.fetchone()[0]
    return (f"template schema {template!r}: {tables} tables, {indexes} indexes, "
            f"{migrations} tenant migrations recorded")


def run_manage(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Run `manage.py args…` with this process's (benchmark) environment; returns (seconds, result)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return elapsed, result


def run_tag() -> str:
    """A short, slug-safe tag, so repeated runs on a kept database never reuse a slug."""
    digits, n = "0123456789abcdefghijklmnopqrstuvwxyz", int(time.time() * 10)
    tag = ""
    while n:
        n, rest = divmod(n, 36)
        tag = digits[rest] + tag
    return tag[-6:]


def create_companies(wanted: int, *, prefix: str) -> None:
    """Bring the number of companies up to `wanted` with company_create (untimed, with progress)."""
    from tenants.models import Company
    from tenants.services import company_create

    existing = Company.objects.exclude(schema_name="public").count()
    missing = max(0, wanted - existing)
    if not missing:
        if wanted:
            say(f"{existing} companies already there")
        return
    tag = run_tag()
    say(f"creating {missing} companies ({existing} already there)…")
    started = batch_started = time.perf_counter()
    batch = 0
    for i in range(missing):
        slug = f"{prefix}{tag}-{i}"
        company_create(name=f"Bench {slug}", slug=slug, plan_code="pro",
                       admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)
        done, batch = i + 1, batch + 1
        if done % 50 == 0 or done == missing:
            now = time.perf_counter()
            say(f"  {done}/{missing} created in {now - started:.1f} s "
                f"(these last {batch}: {(now - batch_started) / batch * 1000:.0f} ms each)")
            batch_started, batch = now, 0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0–100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)
