"""Benchmark: a no-op `migrate_schemas` over many companies (default 200), with and without the stamps.

    .venv/bin/python tests/load/migrate.py [--companies 200] [--keep]

Creates the companies with `company_create` in a throwaway database `conversa_bench_migrate`
(with `--keep`, only the missing ones), then times `migrate_schemas` when nothing is left to apply:
in-process, as a `manage.py` subprocess (start-up included) and with the multiprocessing executor.
Every run also handles `public` and the template schema; "per company" is the total divided by N.
"""

import argparse
import time
from io import StringIO

import _common
from _common import say


def _in_process(*options: str) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate_schemas", *options, verbosity=0, interactive=False, stdout=StringIO())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=200, help="tenant schemas to migrate over")
    parser.add_argument("--no-subprocess", action="store_true", help="only the in-process run")
    _common.add_db_arguments(parser, default_db="conversa_bench_migrate")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")

    try:
        from django.conf import settings

        from tenants.models import Company

        say(_common.template_context())
        _common.create_companies(args.companies, prefix="m")
        n = Company.objects.exclude(schema_name="public").count()
        processes = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)

        results: list[tuple[str, float]] = []
        # New companies have no migrations stamp yet: the first run visits them all (what every run
        # cost before the stamps, and what `--all-schemas` still costs); later runs visit none.
        results.append(("in-process, first run (stamps the new companies)", _in_process()))
        results.append(("in-process, every schema (`--all-schemas`)", _in_process("--all-schemas")))
        results.append(("in-process call_command('migrate_schemas')", _in_process()))
        shared_only = _in_process("--shared")
        if not args.no_subprocess:
            seconds, _ = _common.run_manage("migrate_schemas", "-v", "0")
            results.append(("subprocess `manage.py migrate_schemas -v 0`", seconds))
            seconds, _ = _common.run_manage("migrate_schemas", "-v", "0", "--executor=multiprocessing")
            results.append((f"subprocess `… --executor=multiprocessing` ({processes} processes)", seconds))
            startup, _ = _common.run_manage("shell", "-c", "pass")

        say("")
        for label, seconds in results:
            say(f"migrate (no-op) over {n} companies, {label}: {seconds:.1f} s total, "
                f"{seconds * 1000 / n:.0f} ms per company")
        extra = "" if args.no_subprocess else f"; `manage.py shell -c pass` start-up {startup * 1000:.0f} ms"
        say(f"for comparison: `migrate_schemas --shared` (public only, in-process) "
            f"{shared_only * 1000:.0f} ms{extra}")
    finally:
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
