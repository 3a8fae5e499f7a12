"""Benchmark: what a statement costs with the search_path carried per statement (DB_PGBOUNCER).

    .venv/bin/python tests/load/pgbouncer.py [--queries 3000] [--keep]

In a throwaway database `conversa_bench_pgbouncer`: two schemas with a one-row table each. A
PgBouncer in transaction pooling mode (tests/fixtures/pgbouncer.py, Debian's package) is started on
a free port. Clients built like Django's (our backend, a company's schema selected) run the same
primary-key SELECT `--queries` times, in autocommit and in transactions of 10 statements, for:

- direct, plain: straight to PostgreSQL, django-tenants' one SET search_path per connection (today);
- direct, SET LOCAL: straight to PostgreSQL, the SET LOCAL prefix on every statement (its own cost);
- pgbouncer, SET LOCAL: through PgBouncer, as deployed with DB_PGBOUNCER=true;
- pgbouncer, plain: through PgBouncer without it (unsafe: schemas leak; the pooler hop alone).

Printed per statement (median of 5 rounds): wall time, this process's CPU time and the server side's
CPU time (the PostgreSQL backend; through PgBouncer, PgBouncer and its pool's backends); and the
machine's load average, since other work on it moves wall times far more than CPU times.
"""

import argparse
import copy
import os
import statistics
import time

import _common
from _common import say

SCHEMAS = ("bench_a", "bench_b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_db_arguments(parser, "conversa_bench_pgbouncer")
    parser.add_argument("--queries", type=int, default=3000)
    args = parser.parse_args()

    _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    os.environ["DB_POOL"] = "false"
    _common.setup_django(migrate=False)
    import psycopg
    from django.db import connection

    from conversa.postgresql_backend.base import DatabaseWrapper
    from tests.fixtures.pgbouncer import start_pgbouncer

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as setup:
        for schema in SCHEMAS:
            setup.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            setup.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".item (id int PRIMARY KEY, name text)')
            setup.execute(f'INSERT INTO "{schema}".item VALUES (1, %s) ON CONFLICT DO NOTHING', [schema])

    db = connection.settings_dict
    bouncer = start_pgbouncer(postgres_host=db["HOST"] or "127.0.0.1", postgres_port=int(db["PORT"] or 5432))

    def client(*, through_pgbouncer: bool, set_local: bool) -> DatabaseWrapper:
        settings = copy.deepcopy(db)
        settings["TRANSACTION_POOLING"] = set_local
        if through_pgbouncer:
            settings.update(HOST="127.0.0.1", PORT=bouncer.port)
        wrapper = DatabaseWrapper(settings, alias="bench")
        wrapper.set_schema(SCHEMAS[0])
        return wrapper

    def server_pids(wrapper: DatabaseWrapper, through_pgbouncer: bool) -> list[int]:
        """The processes that serve this client: its backend, or PgBouncer and its pool's backends."""
        if not through_pgbouncer:
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                return [cursor.fetchone()[0]]
        with psycopg.connect(host="127.0.0.1", port=bouncer.port, dbname="pgbouncer", user="postgres",
                             autocommit=True, prepare_threshold=None) as admin:
            cursor = admin.cursor(row_factory=psycopg.rows.dict_row)
            servers = cursor.execute("SHOW SERVERS").fetchall()
        return [bouncer.process.pid, *(row["remote_pid"] for row in servers if row["database"] == args.db)]

    def run(wrapper: DatabaseWrapper, *, in_transactions: bool, pids: list[int]) -> tuple[float, ...]:
        """(wall µs, client CPU µs, server CPU µs) per statement."""
        walls, cpus, server_cpus = [], [], []
        for _ in range(5):
            server_started = sum(_common.cpu_seconds(pid) for pid in pids)
            started, cpu_started = time.perf_counter(), time.process_time()
            done = 0
            while done < args.queries:
                if in_transactions:
                    wrapper.set_autocommit(False)
                for _ in range(10):
                    with wrapper.cursor() as cursor:
                        cursor.execute("SELECT name FROM item WHERE id = %s", [1])
                        assert cursor.fetchone()[0] == SCHEMAS[0]
                if in_transactions:
                    wrapper.commit()
                    wrapper.set_autocommit(True)
                done += 10
            walls.append((time.perf_counter() - started) / done * 1e6)
            cpus.append((time.process_time() - cpu_started) / done * 1e6)
            server_cpus.append((sum(_common.cpu_seconds(pid) for pid in pids) - server_started) / done * 1e6)
        return statistics.median(walls), statistics.median(cpus), statistics.median(server_cpus)

    configurations = [
        ("direct, plain (today)", False, False),
        ("direct, SET LOCAL", False, True),
        ("pgbouncer, SET LOCAL (DB_PGBOUNCER)", True, True),
        ("pgbouncer, plain (unsafe)", True, False),
    ]
    try:
        say(f"load average before: {os.getloadavg()}")
        say(f"{args.queries} statements x 5 rounds per line; µs per statement (wall median, client CPU)")
        for mode in ("autocommit", "transactions of 10"):
            for label, through_pgbouncer, set_local in configurations:
                wrapper = client(through_pgbouncer=through_pgbouncer, set_local=set_local)
                try:
                    run(wrapper, in_transactions=mode != "autocommit", pids=[])  # warm-up: connect, caches
                    pids = server_pids(wrapper, through_pgbouncer)
                    wall, cpu, server_cpu = run(wrapper, in_transactions=mode != "autocommit", pids=pids)
                finally:
                    wrapper.close()
                say(f"  {mode:<20} {label:<38} wall {wall:7.1f} µs   client CPU {cpu:6.1f} µs   "
                    f"server CPU {server_cpu:6.1f} µs")
        say(f"load average after: {os.getloadavg()}")
    finally:
        bouncer.stop()
        connection.close()
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
