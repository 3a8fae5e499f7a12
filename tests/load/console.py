"""Benchmark: server time of the super-admin console's companies list with 1,000 companies (< 300 ms).

    .venv/bin/python tests/load/console.py [--companies 1000] [--real 20] [--runs 20] [--keep]

What is measured, honestly: in a throwaway database `conversa_bench_console`, `--real` companies are
provisioned for real (company_create: schema cloned from the template, domain, admin, a few users)
and the rest are bare `Company` rows inserted in bulk, without schemas — cloning 1,000 schemas
takes many minutes and the list never opens a company's schema: it reads the cached per-company
counts (`CompanyCounts`, refreshed by a periodic task) and `MonthlyUsage`. Every company gets
counts and twelve months of usage, with mixed plans and statuses, and there are 5,000 audit
entries. Pages are fetched through Django's test client on BASE_DOMAIN with a super-admin's
session (the whole middleware stack, no network): the list (first and a middle page, search,
status and plan filters), a real company's page (which counts its schema live), the audit log.
Prints p50/p95 server time and SQL queries per page, with PASS/FAIL against 300 ms; also the time
the periodic refresh takes per real company, extrapolated to all companies.
"""

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import _common
from _common import PASSWORD, say

TARGET_MS = 300
STATUSES = ["active"] * 8 + ["trial", "suspended"]


def populate(*, companies: int, real: int, seed: int = 6) -> dict:
    """Companies, counts, usage and audit entries (untimed); returns the super-admin and a real company."""
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.accounts.services import user_create
    from tenants.console.queries import months_back
    from tenants.models import Company, CompanyCounts, MonthlyUsage, Plan, PlatformAuditEntry
    from tenants.services import company_create

    rng = random.Random(seed)
    tag = _common.run_tag()
    plans = list(Plan.objects.all())
    from django_tenants.utils import schema_context

    operator = User.objects.filter(is_superuser=True, email="operator@bench.example.com").first()
    if operator is None:
        operator = User.objects.create_superuser("operator@bench.example.com", PASSWORD)

    existing = Company.objects.exclude(schema_name="public").count()
    real_made = Company.objects.exclude(schema_name="public").filter(slug__startswith="real").count()
    first_real = None
    for i in range(max(0, real - real_made)):
        slug = f"real{tag}-{i}"
        company, _ = company_create(name=f"Real {slug}", slug=slug, plan_code="enterprise",
                                    admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)
        with schema_context(company.schema_name):
            for n in range(rng.randint(1, 6)):
                user_create(actor=None, email=f"agent{n}@{slug}.example.com", password=PASSWORD)
        first_real = first_real or company
    first_real = first_real or Company.objects.filter(slug__startswith="real").first()
    bare = max(0, companies - existing - max(0, real - real_made))
    if bare:
        # Bulk rows: bulk_create does not call save(), so no schema is created for them.
        Company.objects.bulk_create([
            Company(schema_name=f"bare_{tag.replace('-', '_')}_{i}", slug=f"bare{tag}-{i}",
                    name=f"Bench company {tag} {i:04d}", plan=rng.choice(plans),
                    status=rng.choice(STATUSES))
            for i in range(bare)
        ], batch_size=500)
    now = timezone.now()
    everyone = list(Company.objects.exclude(schema_name="public").values_list("pk", flat=True))
    CompanyCounts.objects.bulk_create([
        CompanyCounts(company_id=pk, agents=rng.randint(1, 40), inboxes=rng.randint(0, 8),
                      contacts=rng.randint(0, 200_000), counted_at=now)
        for pk in everyone
    ], batch_size=1000, ignore_conflicts=True)
    months = months_back(12)
    MonthlyUsage.objects.bulk_create([
        MonthlyUsage(company_id=pk, month=month, outbound_messages=rng.randint(0, 90_000),
                     storage_bytes=rng.randint(0, 5 * 2**30))
        for pk in everyone for month in months
    ], batch_size=2000, ignore_conflicts=True)
    if not PlatformAuditEntry.objects.exists():
        actions = ["company.created", "company.plan_changed", "company.suspended", "company.activated",
                   "company.updated", "plan.updated", "console.login"]
        PlatformAuditEntry.objects.bulk_create([
            PlatformAuditEntry(actor_id=operator.pk, actor_email=operator.email, action=rng.choice(actions),
                               company_id=rng.choice(everyone), reason="bench", ip="127.0.0.1",
                               details={"n": n})
            for n in range(5000)
        ], batch_size=1000)
    return {"operator": operator, "real": first_real, "companies": len(everyone)}


class Session:
    """A test client on BASE_DOMAIN signed in to the console, like the operator's browser tab."""

    def __init__(self, user) -> None:
        from django.conf import settings
        from django.test import Client

        self.client = Client(HTTP_HOST=settings.BASE_DOMAIN)
        response = self.client.post("/console/login/", {"email": user.email, "password": PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"console login of {user.email} failed: {response.status_code}")

    def get(self, path: str):
        from django.db import connection

        response = self.client.get(path)
        connection.set_schema_to_public()
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}")
        return response


def measure(session: Session, path: str, *, runs: int, warmup: int) -> tuple[list[float], int, int]:
    """(milliseconds of each run, SQL queries of one run, bytes)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        session.get(path)
    with CaptureQueriesContext(connection) as queries:
        size = len(session.get(path).content)
    count = len(queries)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return times, count, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000, help="companies in all")
    parser.add_argument("--real", type=int, default=20, help="of which provisioned with a schema")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    _common.add_db_arguments(parser, default_db="conversa_bench_console")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    static_root = Path(tempfile.mkdtemp(prefix="conversa-bench-static-", dir="/tmp"))
    tag = _common.live_environment(HUEY_IMMEDIATE="true", STATIC_ROOT=str(static_root))
    migrate_s = _common.setup_django(migrate=True)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    try:
        from tenants.counts import company_counts_refresh
        from tenants.models import Company

        started = time.perf_counter()
        data = populate(companies=args.companies, real=args.real)
        say(f"{data['companies']} companies ({args.real} with a schema), counts, 12 months of usage "
            f"each, 5,000 audit entries (created in {time.perf_counter() - started:.1f} s, untimed)")

        reals = list(Company.objects.filter(slug__startswith="real"))
        started = time.perf_counter()
        for company in reals:
            company_counts_refresh(company=company)
        per_company = (time.perf_counter() - started) * 1000 / max(len(reals), 1)
        say(f"periodic count refresh: {per_company:.1f} ms per company with a schema, about "
            f"{per_company * data['companies'] / 1000:.1f} s for {data['companies']} companies "
            f"every 5 minutes (one Huey task, off the request path)")

        session = Session(data["operator"])
        real = data["real"]
        pages = [
            ("companies list, page 1", "/console/"),
            ("companies list, page 10", "/console/?page=10"),
            ("companies list, search (most)", "/console/?q=company"),
            ("companies list, search (few)", "/console/?q=real"),
            ("companies list, suspended", "/console/?status=suspended"),
            ("companies list, plan pro", "/console/?plan=pro"),
            ("company page (live counts)", f"/console/companies/{real.pk}/"),
            ("audit log", "/console/audit/"),
            ("plans", "/console/plans/"),
        ]
        _common.check_machine_idle()
        say("")
        say(f"{'page':<32} {'p50':>8} {'p95':>8} {'queries':>8} {'KiB':>6}  target p95 < {TARGET_MS} ms")
        failed = []
        for label, path in pages:
            times, queries, size = measure(session, path, runs=args.runs, warmup=args.warmup)
            p50, p95 = _common.percentile(times, 50), _common.percentile(times, 95)
            verdict = "PASS" if p95 < TARGET_MS else "FAIL"
            if verdict == "FAIL":
                failed.append(label)
            say(f"{label:<32} {p50:>5.1f} ms {p95:>5.1f} ms {queries:>8} {size / 1024:>6.0f}  {verdict}")
        say("")
        say(f"server time through Django's test client (whole middleware stack, console session on "
            f"BASE_DOMAIN), {args.runs} runs per page after {args.warmup} untimed; verdict on p95")
        if failed:
            raise SystemExit(f"over {TARGET_MS} ms: {', '.join(failed)}")
    finally:
        _common.flush_redis(tag)
        shutil.rmtree(static_root, ignore_errors=True)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
