"""Benchmark: what the metrics cost a request, and how long a `/metrics` scrape takes.

    .venv/bin/python tests/load/metrics.py [--requests 1500] [--scrapes 50] [--companies 100,2000] [--keep]

In a throwaway database `conversa_bench_metrics`: one real company (admin signed in with a token).
1. Per-request overhead: the same API request (`GET /api/v1/conversations?limit=1`, through the full
   middleware stack in-process) with the metrics middleware and without it, alternating blocks of
   50 so both see the same machine load; p50/p95 of each and the difference. Also the cost of one
   `inc` + `observe` pair on its own, and of a flush (one Redis pipeline).
2. Scrape time: `GET /metrics` on BASE_DOMAIN with the token, at each `--companies` size. The scrape
   reads only public tables (Company, CompanyCounts, MonthlyUsage) and Redis, never a company's
   schema, so the extra companies are rows inserted directly (no schemas built).
"""

import argparse
import os
import time

import _common
from _common import median, percentile, say

BLOCK = 50


def timed_requests(client, path: str, headers: dict, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.content[:200]!r}")
    return times


def overhead(company, token: str, requests: int) -> None:
    from django.conf import settings
    from django.test import Client, override_settings

    from conversa import metrics

    host = company.get_primary_domain().domain
    client = Client(HTTP_HOST=host)
    headers = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/conversations?limit=1"
    without = [m for m in settings.MIDDLEWARE if not m.endswith("RequestMetricsMiddleware")]
    timed_requests(client, path, headers, 100)  # warm up both paths
    with override_settings(MIDDLEWARE=without):
        timed_requests(Client(HTTP_HOST=host), path, headers, 100)
    on, off = [], []
    for _ in range(max(1, requests // BLOCK)):
        on += timed_requests(client, path, headers, BLOCK)
        with override_settings(MIDDLEWARE=without):
            off += timed_requests(Client(HTTP_HOST=host), path, headers, BLOCK)
    say(f"per request ({len(on)} each, in-process, full middleware stack):")
    say(f"  with metrics    p50 {median(on):.3f} ms   p95 {percentile(on, 95):.3f} ms")
    say(f"  without metrics p50 {median(off):.3f} ms   p95 {percentile(off, 95):.3f} ms")
    say(f"  difference      p50 {median(on) - median(off):+.3f} ms")

    recorder = metrics.Recorder()
    calls = 100_000
    started = time.perf_counter()
    for _ in range(calls):
        recorder.inc(metrics.HTTP_REQUESTS, method="GET", route="/api/v1/conversations", status="2xx")
        recorder.observe(metrics.HTTP_DURATION, 0.004, method="GET", route="/api/v1/conversations")
    per_call = (time.perf_counter() - started) / calls * 1e6
    if recorder.timer:
        recorder.timer.cancel()
    started = time.perf_counter()
    recorder.flush()
    flush_ms = (time.perf_counter() - started) * 1000
    say(f"  recording alone: {per_call:.2f} µs per request (inc + observe); "
        f"a flush of 1 route: {flush_ms:.2f} ms (one pipeline, at most once a second per process)")


def add_companies(template, wanted: int) -> None:
    """Company rows (with their counts and this month's usage) up to `wanted`; no schemas."""
    from django.utils import timezone

    from tenants.models import Company, CompanyCounts, MonthlyUsage
    from tenants.usage import month_start

    existing = Company.objects.exclude(schema_name="public").count()
    tag, now = _common.run_tag(), timezone.now()
    rows = [
        Company(schema_name=f"bm{tag}_{i}", name=f"Bench {i}", slug=f"bm{tag}-{i}", plan=template.plan,
                status=Company.Status.ACTIVE)
        for i in range(max(0, wanted - existing))
    ]
    created = Company.objects.bulk_create(rows, batch_size=1000)
    CompanyCounts.objects.bulk_create(
        [CompanyCounts(company=row, agents=3, inboxes=1, contacts=1000 + i, counted_at=now)
         for i, row in enumerate(created)],
        batch_size=1000,
    )
    MonthlyUsage.objects.bulk_create(
        [MonthlyUsage(company=row, month=month_start(), outbound_messages=i)
         for i, row in enumerate(created)],
        batch_size=1000,
    )


def scrape_times(scrapes: int) -> tuple[list[float], int]:
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    headers = {"Authorization": f"Bearer {settings.METRICS_TOKEN}"}
    times, size = [], 0
    for _ in range(scrapes):
        started = time.perf_counter()
        response = client.get("/metrics", headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"/metrics: {response.status_code}")
        size = len(response.content)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="timed requests with and without")
    parser.add_argument("--scrapes", type=int, default=50, help="timed scrapes per size")
    parser.add_argument("--companies", default="100,2000", help="company counts to scrape at")
    _common.add_db_arguments(parser, default_db="conversa_bench_metrics")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    os.environ["METRICS_TOKEN"] = "bench-metrics-token"
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    try:
        from django.test.utils import setup_test_environment
        from django_tenants.utils import schema_context

        from apps.accounts.models import User

        setup_test_environment()  # the test client without a test database
        company = _common.bench_company("metrics")
        with schema_context(company.schema_name):
            admin = User.objects.get(role="admin")
        token = _common.access_token(company, admin)
        overhead(company, token, args.requests)
        for size in (int(value) for value in args.companies.split(",") if value.strip()):
            add_companies(company, size)
            times, body = scrape_times(args.scrapes)
            say(f"scrape with {size} companies: p50 {median(times):.1f} ms, "
                f"p95 {percentile(times, 95):.1f} ms, {body / 1024:.0f} KiB of text")
    finally:
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
