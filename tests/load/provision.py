"""Benchmark: how long creating a company takes (target: median under 1 s).

    .venv/bin/python tests/load/provision.py [--count 20] [-v] [--cli-runs 2] [--profile] [--keep]

Times `tenants.services.company_create` in-process (template clone, domain and first admin in one
transaction) `--count` times, then the `create_company` management command end to end as a
subprocess (Python and Django start-up included), in a throwaway database `conversa_bench`.
"""

import argparse
import time

import _common
from _common import PASSWORD, say


def _company_kwargs(slug: str) -> dict:
    return dict(name=f"Bench {slug}", slug=slug, plan_code="pro",
                admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)


def _profile_one(slug: str, top: int) -> None:
    import cProfile
    import io
    import pstats

    from tenants.services import company_create

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(company_create, **_company_kwargs(slug))
    elapsed = (time.perf_counter() - started) * 1000
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    say(f"\ncProfile of one company_create ({elapsed:.0f} ms under the profiler), top {top} cumulative:")
    say(out.getvalue().rstrip())


def _clone_alone_ms(samples: int) -> list[float]:
    """The template clone on its own, each in a transaction that is rolled back."""
    from django.db import connection, transaction

    from tenants.schema_template import clone_template

    runs = []
    for i in range(samples):
        with transaction.atomic():
            started = time.perf_counter()
            clone_template(f"zz_bench_clone_{i}")
            runs.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    connection.set_schema_to_public()
    return runs


def _password_hash_ms() -> str:
    from django.contrib.auth.hashers import get_hasher, make_password

    hasher = get_hasher()
    make_password(PASSWORD)  # warm-up
    started = time.perf_counter()
    make_password(PASSWORD)
    elapsed = (time.perf_counter() - started) * 1000
    rounds = getattr(hasher, "iterations", None) or getattr(hasher, "rounds", "?")
    return f"{elapsed:.0f} ms ({hasher.algorithm}, {rounds} iterations)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="companies to create in-process")
    parser.add_argument("--cli-runs", type=int, default=2,
                        help="`manage.py create_company` subprocess runs (0 to skip)")
    parser.add_argument("--existing", type=int, default=0,
                        help="first bring the database to this many companies (untimed); for the "
                             "clone's cost at 1,000 companies and more see tests/load/tenants.py")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed company_create calls first (imports, first clone)")
    parser.add_argument("--clone-samples", type=int, default=5,
                        help="also time the template clone alone this many times (rolled back)")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile one extra company_create and print the top entries")
    parser.add_argument("--top", type=int, default=25, help="entries shown by --profile")
    parser.add_argument("--pool", type=int, default=3,
                        help="ready schemas kept in the pool (0: clone the template for every company)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every run")
    _common.add_db_arguments(parser, default_db="conversa_bench")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")

    try:
        from tenants.services import company_create

        say(_common.template_context())
        _common.create_companies(args.existing, prefix="e")
        hash_ms = _password_hash_ms()

        from tenants.models import Company

        before = Company.objects.exclude(schema_name="public").count()
        tag = _common.run_tag()
        warmups: list[float] = []
        for i in range(args.warmup):
            started = time.perf_counter()
            company_create(**_company_kwargs(f"w{tag}-{i}"))
            warmups.append((time.perf_counter() - started) * 1000)

        from tenants import schema_pool, services

        # A worker refills the pool of ready schemas between companies in production; here the
        # refill runs untimed before each creation instead of inside it (tasks run inline here).
        services._refill_schema_pool = lambda: None
        pooled = args.pool > 0
        runs: list[float] = []
        for i in range(args.count):
            slug = f"p{tag}-{i}"
            if pooled:
                schema_pool.fill(args.pool)
            started = time.perf_counter()
            company_create(**_company_kwargs(slug))
            ms = (time.perf_counter() - started) * 1000
            runs.append(ms)
            if args.verbose:
                say(f"  company_create #{i + 1:>3} {slug}: {ms:.0f} ms")

        cli_runs: list[float] = []
        for i in range(args.cli_runs):
            slug = f"c{tag}-{i}"
            seconds, result = _common.run_manage(
                "create_company", "--name", f"Bench {slug}", "--slug", slug, "--plan", "pro",
                "--admin-email", f"admin@{slug}.example.com", "--admin-password", PASSWORD,
            )
            cli_runs.append(seconds * 1000)
            if args.verbose:
                say(f"  manage.py create_company #{i + 1} {slug}: {seconds * 1000:.0f} ms "
                    f"-> {result.stdout.strip()}")
        startup_ms = None
        if args.cli_runs:
            seconds, _ = _common.run_manage("shell", "-c", "pass")
            startup_ms = seconds * 1000

        clones = _clone_alone_ms(args.clone_samples)
        if args.profile:
            _profile_one(f"x{tag}-0", args.top)

        say("")
        if runs:
            median = _common.median(runs)
            verdict = "PASS" if median < 1000 else "FAIL"
            say(f"provision: median {median:.0f} ms, p90 {_common.percentile(runs, 90):.0f} ms, "
                f"min {min(runs):.0f} ms, max {max(runs):.0f} ms over {len(runs)} companies "
                f"(company_create in-process, {before} companies already in the database, "
                f"{'schema pool of ' + str(args.pool) if args.pool else 'no schema pool'}; "
                f"target < 1000 ms: {verdict})")
        if clones:
            say(f"where it goes: template clone alone median {_common.median(clones):.0f} ms "
                f"({len(clones)} rolled-back clones); first admin's password hash {hash_ms}")
        if warmups:
            say(f"first call(s) in the process, not counted: {', '.join(f'{ms:.0f}' for ms in warmups)} ms")
        if cli_runs:
            say(f"provision via `manage.py create_company` subprocess (Python + Django start-up "
                f"included): {', '.join(f'{ms:.0f}' for ms in cli_runs)} ms; "
                f"start-up alone (`manage.py shell -c pass`): {startup_ms:.0f} ms")
    finally:
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
