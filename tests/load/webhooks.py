"""Benchmark: outbound webhooks — a dead endpoint must not delay a healthy one (per-endpoint queues).

    .venv/bin/python tests/load/webhooks.py [--events 300] [--rate 20] [--threads 2] [--dead 1]
        [--timeout 10] [--retry-base 1] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_webhooks`, one company with endpoints subscribed to
`contact.created`: a healthy receiver (answers 200 at once) and `--dead` dead ones (they accept the
connection and never answer: every attempt costs the whole `--timeout`). A real Huey consumer with
a fixed `--threads` threads delivers. With `--retry-base 1` a dead endpoint is retried as soon as
its pause allows (1 s, ×3 per attempt), so it would keep a worker busy most of the time: the
adversarial case. `--dead 3` with 2 threads: more dead endpoints than workers.

1. Healthy alone (the dead endpoints disabled): `--events` contacts created at `--rate` per second;
   latency = arrival at the healthy receiver − the event's `created_at`. Prints p50/p95/max.
2. The same with the dead endpoints enabled. p95 must stay in the same order of magnitude.
3. Throughput: `--events` contacts created in one transaction (dead endpoints still enabled), so
   their deliveries are stored together; deliveries/s to the healthy endpoint from the commit to
   the last arrival.
"""

import argparse
import datetime as dt
import sys
import threading
import time

import _common
from _common import say

from tests.fakes.webhook_receiver import WebhookReceiver


def _endpoint(company, url: str):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.webhooks.services import endpoint_create

    with schema_context(company.schema_name):
        admin = User.objects.get(role="admin")
        return endpoint_create(actor=admin, url=url, events=["contact.created"])[0]


def _set_active(company, endpoint, active: bool) -> None:
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.webhooks.services import endpoint_update

    with schema_context(company.schema_name):
        endpoint_update(actor=User.objects.get(role="admin"), endpoint=endpoint, active=active)


def _create_contacts(company, count: int, rate: float | None, label: str) -> None:
    from django_tenants.utils import schema_context

    from apps.contacts.services import contact_create

    started = time.monotonic()
    with schema_context(company.schema_name):
        for i in range(count):
            if rate:
                wait = started + i / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            contact_create(phone=f"+551198{label}{i:06d}", name=f"Bench {label} {i}")


def _burst(company, count: int) -> float:
    """`count` contacts in one transaction: their events (and deliveries) arrive as one batch, so
    the healthy endpoint's queue holds a backlog to flush. Returns the commit's time."""
    from django.db import transaction

    from conversa.events import delivered_together

    with delivered_together():
        with transaction.atomic():
            _create_contacts(company, count, None, "3")
        committed = time.time()
    return committed


def _wait_for(receiver: WebhookReceiver, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    if len(receiver.received) < count:
        raise SystemExit(f"only {len(receiver.received)} of {count} deliveries arrived in {seconds:.0f} s")


def _latencies(received) -> list[float]:
    return [(request.time - dt.datetime.fromisoformat(request.json["created_at"]).timestamp()) * 1000
            for request in received]


def _phase(company, receiver, events: int, rate: float, label: str) -> list[float]:
    before = len(receiver.received)
    _create_contacts(company, events, rate, label)
    _wait_for(receiver, before + events, 120)
    return _latencies(receiver.received[before:before + events])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20, help="events per second in phases 1 and 2")
    parser.add_argument("--threads", type=int, default=2, help="threads of the Huey consumer")
    parser.add_argument("--dead", type=int, default=1, help="dead endpoints beside the healthy one")
    parser.add_argument("--timeout", type=float, default=10, help="WEBHOOK_TIMEOUT_SECONDS")
    parser.add_argument("--retry-base", type=float, default=1, help="WEBHOOK_RETRY_BASE_SECONDS")
    parser.add_argument("--keep-logs", action="store_true")
    _common.add_db_arguments(parser, default_db="conversa_bench_webhooks")
    args = parser.parse_args()

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment(WEBHOOK_TIMEOUT_SECONDS=str(args.timeout),
                                   WEBHOOK_RETRY_BASE_SECONDS=str(args.retry_base),
                                   WEBHOOK_DISABLE_AFTER_FAILURES="1000000")
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    _common.check_machine_idle()
    stack, failed = None, True
    healthy = WebhookReceiver().__enter__()
    dead = WebhookReceiver(hang_seconds=args.timeout + 5).__enter__()
    dead.hang = True
    try:
        company = _common.bench_company("wh")
        _endpoint(company, healthy.url)
        dead_endpoints = [_endpoint(company, f"{dead.url}/{n}") for n in range(args.dead)]
        for endpoint in dead_endpoints:
            _set_active(company, endpoint, False)
        stack = _common.LiveStack()
        stack.start_worker(threads=args.threads)
        say(f"{args.threads} worker threads, timeout {args.timeout:g} s, retry base {args.retry_base:g} s")

        alone = _phase(company, healthy, args.events, args.rate, "1")
        say(f"1. healthy alone, {args.events} events at {args.rate:g}/s: {_common.summary(alone)}")

        for endpoint in dead_endpoints:
            _set_active(company, endpoint, True)
        with_dead = _phase(company, healthy, args.events, args.rate, "2")
        say(f"2. beside {args.dead} dead endpoint(s), {args.events} events at {args.rate:g}/s: "
            f"{_common.summary(with_dead)}; the dead endpoints got {len(dead.received)} attempts")

        before = len(healthy.received)
        committed = _burst(company, args.events)
        _wait_for(healthy, before + args.events, 300)
        took = healthy.received[-1].time - committed
        say(f"3. burst of {args.events} events committed at once, beside {args.dead} dead endpoint(s): "
            f"{args.events / took:.0f} deliveries/s to the healthy endpoint "
            f"(all delivered {took:.1f} s after the commit)")
        stack.check_alive()
        failed = False
    finally:
        healthy.__exit__(None, None, None)
        dead.__exit__(None, None, None)
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
