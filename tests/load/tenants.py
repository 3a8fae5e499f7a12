"""Benchmark: provisioning at many companies stays flat (issue 14, acceptance 1: provisioning and migrate).

    .venv/bin/python tests/load/tenants.py [--companies 1000] [--batch 100] [--sample 5] [--keep]

Creates `--companies` companies with the normal provisioning, in a throwaway database
`conversa_bench_tenants`: `company_create` takes a schema from the pool (one ready schema, as the
worker keeps it), then the pool is refilled by cloning the template, timed apart, as the worker does
between sign-ups. Prints per batch of companies the p50/p95 of the clone (wall, and CPU seconds of the
PostgreSQL backend, which do not depend on what else loads the machine) and of `company_create`, the
PostgreSQL connections the database has open and, at the batch ends `--old-clone-at` names, one clone
with django-tenants' old clone_schema() (rolled back) for comparison. Then: the template script's
generation time at the start and at the end, migrate_schemas' first run (it visits the new, unstamped
companies) and a no-op run, a catalog comparison of `--sample` companies spread over the run with the
template, disk per company, and what 10,000 companies would take.
"""

import argparse
import os
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
    _common.add_db_arguments(parser, default_db="conversa_bench_tenants")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    migrate_s = _common.setup_django(migrate=True)
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
        schema_pool.fill(1)
        before = Company.objects.exclude(schema_name="public").count()
        size_before = _database_bytes()
        tag = _common.run_tag()
        clones, clone_cpu, creates, old = [], [], [], []
        all_clones, all_cpu, all_creates, created = [], [], [], []
        peak_connections = 0
        batch_started = time.perf_counter()
        for i in range(args.companies):
            slug = f"t{tag}-{i}"
            started = time.perf_counter()
            company, _admin = company_create(name=f"Bench {slug}", slug=slug, plan_code="pro",
                                             admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)
            creates.append(time.perf_counter() - started)
            created.append(company.schema_name)

            pid = _backend_pid()
            cpu_before = _backend_cpu_seconds(pid)
            started = time.perf_counter()
            assert schema_pool.fill(1) == 1
            clones.append(time.perf_counter() - started)
            clone_cpu.append(_backend_cpu_seconds(pid) - cpu_before)

            done = i + 1
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
            say(f"migrate_schemas at {total} companies: first run {first:.1f} s (visits the companies "
                f"created since the last run, which carry no migrations stamp yet); no-op run {noop:.1f} s")

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
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
