"""Benchmark: provisioning at many companies stays flat (issue 14, acceptance 1: provisioning and migrate).

    .venv/bin/python tests/load/tenants.py [--companies 1000] [--batch 100] [--sample 5] [--keep]

Creates `--companies` companies with the normal provisioning, in a throwaway database
`conversa_bench_tenants`: `company_create` takes a schema from the pool (one ready schema, as the
worker keeps it), then the pool is refilled by cloning the template, timed apart, as the worker does
between sign-ups. Prints per batch of companies the p50/p95 of the clone (wall, and CPU seconds of the
PostgreSQL backend, which do not depend on what else loads the machine) and of `company_create`, the
PostgreSQL connections the database has open and, at the batch ends `--old-clone-at` names, one clone
with django-tenants' old clone_schema() (rolled back) for comparison. Then: the template script's
generation time at the start and at the end, migrate_schemas' first run (the new companies, cloned
from a current template, are stamped at creation: it visits none of them) and a second no-op run,
a catalog comparison of `--sample` companies spread over the run with the template, disk per
company, and what 10,000 companies would take.

Issue 14's other figures, at `--api-at` companies and again at the end: the tenant API's p50/p95 for
one company (`--api-requests` GETs of its contacts and conversations through a fresh uvicorn with 2
workers, its admin's token), the resident memory of each web process, and the PostgreSQL and Redis
connections in use meanwhile; at the end only, the console's companies list p95 (Django's test
client, signed in as an operator) and the time `migrate_schemas --executor=multiprocessing` takes to
apply one additive migration (the rolling-deploy test's app, `tests/load/next_release_settings.py`)
to every company.
"""

import argparse
import os
import shutil
import tempfile
import time
from io import StringIO
from pathlib import Path

import _common
from _common import PASSWORD, say


def _backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _old_clone_seconds(sample: int) -> float:
    """django-tenants' clone_schema() once, rolled back: what every clone cost before."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT public.clone_schema('tenant_template', %s, 'DATA')",
                       [f"zz_old_clone_{sample}"])
        transaction.set_rollback(True)
    return time.perf_counter() - started


def _install_old_clone_function() -> None:
    from django.db import connection
    from django_tenants.clone import CLONE_SCHEMA_FUNCTION

    with connection.cursor() as cursor:
        user = connection.settings_dict.get("USER") or "postgres"
        cursor.execute(CLONE_SCHEMA_FUNCTION.format(db_user=user))


def _migrate_seconds() -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate_schemas", verbosity=0, interactive=False, stdout=StringIO())
    return time.perf_counter() - started


def _script_generation_seconds() -> float:
    from tenants.schema_template import generate_template_script

    started = time.perf_counter()
    generate_template_script()
    return time.perf_counter() - started


def _database_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _seed_probe(company) -> None:
    """The company the API probe reads: 200 contacts, 50 of them with a conversation."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.contacts.models import Contact
    from apps.conversations.models import Conversation
    from apps.inboxes.services import inbox_create

    with schema_context(company.schema_name):
        inbox = inbox_create(actor=None, name="Probe", provider="sandbox", credentials={})
        contacts = Contact.objects.bulk_create(
            [Contact(phone=f"+5511977{i:06d}", name=f"Probe {i}") for i in range(200)])
        now = timezone.now()
        Conversation.objects.bulk_create([
            Conversation(contact=contact, inbox=inbox, status=Conversation.Status.OPEN, last_message_at=now)
            for contact in contacts[:50]
        ])


def _api_probe(company, admin, *, requests: int, warmup: int = 50) -> dict:
    """The tenant API through a fresh web server (2 workers): p50/p95, RSS per process, connections."""
    import httpx

    from conversa.redis import get_redis

    stack = _common.LiveStack()
    try:
        stack.start_server(workers=2)
        host = company.get_primary_domain().domain
        headers = {"Host": host, "Authorization": f"Bearer {_common.access_token(company, admin)}"}
        times = []
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", headers=headers, timeout=10) as client:
            for i in range(warmup + requests):
                path = "/api/v1/contacts?limit=25" if i % 2 else "/api/v1/conversations?limit=25"
                started = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
                if i >= warmup:
                    times.append(elapsed)
        # uvicorn's supervisor spawns the workers (multiprocessing's `spawn_main`); its other child is
        # multiprocessing's resource tracker.
        [supervisor] = stack.pids("uvicorn")
        workers = [pid for pid in _common._descendants(supervisor)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return {
            "times": times, "rss": [_rss_mib(pid) for pid in workers],
            "pg": _connections(), "redis": get_redis().info("clients")["connected_clients"],
        }
    finally:
        stack.close()


def _say_probe(label: str, probe: dict) -> None:
    say(f"tenant API at {label}: p50 {_ms(probe['times'], 50)} ms p95 {_ms(probe['times'], 95)} ms; "
        "web processes' RSS "
        f"{', '.join(f'{rss:.0f}' for rss in probe['rss'])} MiB; {probe['pg']} PostgreSQL connections, "
        f"{probe['redis']} Redis clients while it served")


def _console_list_p95(runs: int = 30) -> str:
    from console import Session, measure

    from apps.accounts.models import User

    operator = User.objects.create_superuser(f"operator-{_common.run_tag()}@bench.example.com", PASSWORD)
    times, queries, _size = measure(Session(operator), "/console/", runs=runs, warmup=3)
    return (f"p50 {_common.percentile(times, 50):.1f} ms p95 {_common.percentile(times, 95):.1f} ms "
            f"({queries} queries; target p95 < 100 ms)")


def _additive_migration_seconds() -> tuple[float, int]:
    """`migrate_schemas --executor=multiprocessing` with the next release's additive migration."""
    seconds, result = _common.run_manage("migrate_schemas", "--noinput", "--executor=multiprocessing",
                                         env={"DJANGO_SETTINGS_MODULE": "tests.load.next_release_settings"})
    from tests.fixtures.migrations import visited_schemas

    # One company is migrated by Django's executor, the others replay its SQL.
    return seconds, len(visited_schemas(result.stdout))


def _ms(values: list[float], pct: float) -> str:
    return f"{_common.percentile(values, pct) * 1000:.0f}"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000, help="companies to provision")
    parser.add_argument("--batch", type=int, default=100, help="companies per printed line")
    parser.add_argument("--sample", type=int, default=5,
                        help="companies whose catalog is compared with the template at the end")
    parser.add_argument("--old-clone-at", default="100,200",
                        help="company counts at which django-tenants' clone_schema() is also timed once "
                             "(comma-separated; empty for none): it takes 36 s at 200 companies and grows")
    parser.add_argument("--no-migrate", action="store_true", help="skip the migrate_schemas runs")
    parser.add_argument("--api-at", type=int, default=10,
                        help="companies at which the API is probed first (again at the end)")
    parser.add_argument("--api-requests", type=int, default=400, help="timed API requests per probe")
    _common.add_db_arguments(parser, default_db="conversa_bench_tenants")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    # The probes' web servers and the console's pages need collected static files.
    static_root = Path(tempfile.mkdtemp(prefix="conversa-bench-static-", dir="/tmp"))
    _common.live_environment(HUEY_IMMEDIATE="true", STATIC_ROOT=str(static_root))
    migrate_s = _common.setup_django(migrate=True)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s; "
        f"load average {_load()} on {os.cpu_count()} CPUs")

    try:
        from tenants import schema_pool, services
        from tenants.models import Company
        from tenants.services import company_create

        say(_common.template_context())
        old_clone_at = {int(n) for n in args.old_clone_at.split(",") if n.strip()}
        if old_clone_at:
            _install_old_clone_function()
        generation_first = _script_generation_seconds()
        # The refill runs here, timed apart, instead of inside company_create's on_commit.
        services._refill_schema_pool = lambda: None
        # The backend's CPU is read around the clone itself: fill() may then end that backend.
        clone_seconds = []
        clone = schema_pool.clone_template

        def timed_clone(name):
            pid = _backend_pid()
            before = _backend_cpu_seconds(pid)
            clone(name)
            clone_seconds.append(_backend_cpu_seconds(pid) - before)

        schema_pool.clone_template = timed_clone
        schema_pool.fill(1)
        before = Company.objects.exclude(schema_name="public").count()
        size_before = _database_bytes()
        tag = _common.run_tag()
        clones, clone_cpu, creates, old = [], [], [], []
        all_clones, all_cpu, all_creates, created = [], [], [], []
        peak_connections = 0
        batch_started = time.perf_counter()
        probe_company = probe_admin = first_probe = None
        for i in range(args.companies):
            slug = f"t{tag}-{i}"
            started = time.perf_counter()
            company, _admin = company_create(name=f"Bench {slug}", slug=slug, plan_code="pro",
                                             admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)
            creates.append(time.perf_counter() - started)
            created.append(company.schema_name)
            if probe_company is None:
                probe_company, probe_admin = company, _admin
                _seed_probe(company)

            started = time.perf_counter()
            assert schema_pool.fill(1) == 1
            clones.append(time.perf_counter() - started)
            clone_cpu.append(clone_seconds.pop())

            done = i + 1
            if before + done == args.api_at:
                first_probe = _api_probe(probe_company, probe_admin, requests=args.api_requests)
                _say_probe(f"{args.api_at} companies", first_probe)
            if done % args.batch == 0 or done == args.companies:
                peak_connections = max(peak_connections, _connections())
                old_text = ""
                if before + done in old_clone_at:
                    old.append(_old_clone_seconds(done))
                    old_text = f"; old clone_schema() {old[-1] * 1000:.0f} ms"
                say(f"companies {before + done - len(creates) + 1:>5}–{before + done:<5} "
                    f"clone p50 {_ms(clones, 50)} ms p95 {_ms(clones, 95)} ms "
                    f"(backend CPU p50 {_ms(clone_cpu, 50)} ms p95 {_ms(clone_cpu, 95)} ms); "
                    f"company_create p50 {_ms(creates, 50)} ms p95 {_ms(creates, 95)} ms{old_text}; "
                    f"{_connections()} PG connections; {time.perf_counter() - batch_started:.0f} s; "
                    f"load {_load()}")
                all_clones += clones
                all_cpu += clone_cpu
                all_creates += creates
                clones, clone_cpu, creates = [], [], []
                batch_started = time.perf_counter()

        total = Company.objects.exclude(schema_name="public").count()
        generation_last = _script_generation_seconds()
        say("")
        say(f"template script generation: {generation_first * 1000:.0f} ms at {before} companies, "
            f"{generation_last * 1000:.0f} ms at {total}")
        if all_clones:
            say(f"all {len(all_clones)}: clone p50 {_ms(all_clones, 50)} ms p95 {_ms(all_clones, 95)} ms, "
                f"backend CPU p50 {_ms(all_cpu, 50)} ms; company_create p50 {_ms(all_creates, 50)} ms "
                f"p95 {_ms(all_creates, 95)} ms")

        if not args.no_migrate:
            first = _migrate_seconds()
            noop = _migrate_seconds()
            say(f"migrate_schemas at {total} companies: first run {first:.1f} s (the new companies were "
                f"stamped at creation: nothing to visit); no-op run {noop:.1f} s")

        if probe_company is not None:
            last_probe = _api_probe(probe_company, probe_admin, requests=args.api_requests)
            _say_probe(f"{total} companies", last_probe)
            if first_probe:
                growth = (_common.percentile(last_probe["times"], 95)
                          / _common.percentile(first_probe["times"], 95) - 1)
                say(f"tenant API p95 at {total} companies against {args.api_at}: {growth:+.0%} "
                    "(target within 20 %)")
        say(f"console companies list at {total} companies: {_console_list_p95()}")
        if not args.no_migrate:
            seconds, migrated = _additive_migration_seconds()
            say(f"one additive migration (a table and a column) applied by migrate_schemas "
                f"--executor=multiprocessing: {seconds:.1f} s, {migrated} company schemas migrated "
                "(target < 5 min at 10,000)")

        from tests.tenants.catalog import differences, schema_snapshot

        sample = sorted(set(created[:: max(1, len(created) // max(1, args.sample))][: args.sample]
                            + ([created[-1]] if created else [])))
        template = schema_snapshot("tenant_template")
        bad = {schema: found for schema in sample
               if (found := differences(template, schema_snapshot(schema), clone_schema=schema,
                                        template_schema="tenant_template", definition_only=True))}
        say(f"catalog of {len(sample)} companies ({', '.join(sample)}) compared with the template "
            "(tables, columns, defaults, sequences, indexes, constraints; rows and sequence positions are "
            "the company's own): "
            + ("identical" if not bad else f"DIFFERENT {bad}"))

        size = _database_bytes()
        per_company = (size - size_before) / max(1, len(created))
        say(f"database size {size / 2**30:.2f} GiB, about {per_company / 2**20:.1f} MiB per company "
            f"(10,000 companies: about {per_company * 10_000 / 2**30:.0f} GiB)")
        say(f"PostgreSQL connections of this database: {_connections()} now, {peak_connections} at most "
            "at batch ends (this process's pool and the benchmark's admin connection)")
        if all_clones:
            per_company_s = _common.median(all_clones) + _common.median(all_creates)
            say(f"10,000 companies one after another at this rate: about "
                f"{per_company_s * 10_000 / 3600:.1f} h "
                f"({per_company_s * 1000:.0f} ms each, clone and company_create medians; load {_load()})")
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
