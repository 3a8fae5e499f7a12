"""Benchmark: automation rules under a steady stream of customers' messages.

    .venv/bin/python tests/load/automation.py [--rules 20] [--rate 50] [--duration 20]
        [--workers 2] [--threads 2] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_automation`: one company with a sandbox inbox and `--rules`
active rules on `message.created`, each with three conditions (the inbox, inbound, the text contains
its own word; every fifth also "within business hours") and one action (add its label). Customers'
messages are then received at a steady `--rate` for `--duration` seconds with `message_receive` in
this process (a few threads keep the schedule), exactly what the webhook drain does; each message
names one rule's word, so every message is checked against all the rules and fires exactly one.
The events are published here after commit; the automation listener queues one task per commit to
`--workers` Huey consumers, which evaluate the rules and apply the actions.

Latency = the rule's label change on the conversation's timeline − the message's `created_at`
(both stamped by processes on this machine, inside their transactions: the commit of each side is
a few milliseconds later). Overhead per message = the consumers' CPU time over the run ÷ messages
(the rules' task, the label's write and its realtime frame), beside the same for a run without rules
when `--baseline` is given.
"""

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _common
from _common import say

# Delimited, so that no rule's word is part of another's ("pedido-1-" is not in "pedido-10-").
WORD = "pedido-{}-"


def _setup(company, rules: int):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.automation.services import rule_create
    from apps.inboxes.services import inbox_create

    with schema_context(company.schema_name):
        admin = User.objects.get(role=User.Role.ADMIN)
        inbox = inbox_create(actor=None, name="Bench sandbox", provider="sandbox", credentials={})
        for index in range(rules):
            conditions = [{"type": "inbox", "inbox_ids": [inbox.pk]},
                          {"type": "direction", "direction": "inbound"},
                          {"type": "text_contains", "words": [WORD.format(index)]}]
            if index % 5 == 0:
                conditions.append({"type": "business_hours", "when": "within"})
            rule_create(actor=admin, values={
                "name": f"Rule {index}", "event": "message.created", "conditions": conditions,
                "actions": [{"type": "add_label", "label": f"l{index}"}]})
    return inbox


def _produce(company, inbox, *, rate: float, count: int, threads: int, rules: int) -> dict:
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.conversations.inbound import message_receive
    from apps.inboxes.providers.base import InboundMessage

    late, lock = [0.0], threading.Lock()
    started = time.time() + 0.2

    def send(i: int) -> None:
        wait = started + i / rate - time.time()
        if wait > 0:
            time.sleep(wait)
        else:
            with lock:
                late[0] = max(late[0], -wait)
        with schema_context(company.schema_name):
            message_receive(inbox=inbox, inbound=InboundMessage(
                provider_message_id=f"bench.automation.{i}", from_phone=f"+55219{i:08d}",
                profile_name=f"Customer {i}", kind="text",
                text=f"Olá, sobre o meu {WORD.format(i % max(rules, 1))}, pode ver?",
                timestamp=timezone.now(),
            ))
        connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(send, range(count)))
    return {"late_ms": late[0] * 1000, "seconds": time.time() - started}


def _latencies(company) -> tuple[list[float], int]:
    from django.db.models import Min, OuterRef, Subquery
    from django_tenants.utils import schema_context

    from apps.conversations.models import Message, TimelineEvent

    with schema_context(company.schema_name):
        labelled = (TimelineEvent.objects.filter(conversation_id=OuterRef("conversation_id"),
                                                 kind="labels_changed")
                    .values("conversation_id").annotate(at=Min("created_at")).values("at"))
        rows = list(Message.objects.filter(direction="inbound").annotate(acted=Subquery(labelled))
                    .values_list("created_at", "acted"))
    done = [(acted - created).total_seconds() * 1000 for created, acted in rows if acted]
    return done, len(rows) - len(done)


def _wait(company, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = _latencies(company)
        if len(done) >= expected:
            return
        time.sleep(0.3)


def _run(args, count: int, rules: int) -> dict:
    from huey.contrib.djhuey import HUEY

    company = _common.bench_company("au")
    inbox = _setup(company, rules)
    stack = _common.LiveStack()
    failed = True
    try:
        for index in range(args.workers):
            stack.start_worker(threads=args.threads, index=index)
        deadline = time.monotonic() + 30
        while HUEY.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        stack.check_alive()
        cpu_before = stack.cpu("huey")
        busy_before, wall_before = _common.machine_busy_seconds(), time.time()
        produced = _produce(company, inbox, rate=args.rate, count=count, threads=args.producer_threads,
                            rules=rules)
        if rules:
            _wait(company, count, args.drain)
        else:
            time.sleep(3)  # the other listeners' tasks (greeting, SLA checks) settle
        result = {"wall": time.time() - wall_before, "huey_cpu": stack.cpu("huey") - cpu_before,
                  "busy": _common.machine_busy_seconds() - busy_before, "produced": produced}
        stack.check_alive()
        result["done"], result["waiting"] = _latencies(company)
        failed = False
        return result
    finally:
        stack.close(keep_logs=failed or args.keep_logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=20, help="active rules on message.created")
    parser.add_argument("--rate", type=float, default=50, help="inbound messages per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds of steady arrivals")
    parser.add_argument("--workers", type=int, default=2, help="Huey consumer processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per consumer")
    parser.add_argument("--producer-threads", type=int, default=4, help="threads calling message_receive")
    parser.add_argument("--drain", type=float, default=30,
                        help="seconds to wait for the last rules after the last message")
    parser.add_argument("--baseline", action="store_true",
                        help="first the same stream without rules, for the consumers' CPU without them")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs")
    _common.add_db_arguments(parser, default_db="conversa_bench_automation")
    args = parser.parse_args()
    count = max(1, round(args.rate * args.duration))

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    try:
        _common.check_machine_idle()
        baseline = _run(args, count, 0) if args.baseline else None
        result = _run(args, count, args.rules)
        done, waiting = result["done"], result["waiting"]
        say("")
        say(f"configuration: {args.rules} active rules (3–4 conditions, 1 action each); {args.workers} Huey "
            f"consumers × {args.threads} threads; {count} inbound messages at {args.rate:g}/s "
            f"(message_receive in this process, {args.producer_threads} threads)")
        say(f"producer: at most {result['produced']['late_ms']:.0f} ms behind its schedule, "
            f"{result['produced']['seconds']:.1f} s for {count}")
        say(f"rules applied to {len(done)} of {count} messages; {waiting} not yet after the drain")
        if done:
            say(f"message committed → rule's action applied: {_common.summary(done)}")
        say(f"CPU over the {result['wall']:.1f} s run: machine busy {result['busy']:.1f} of "
            f"{(os.cpu_count() or 1) * result['wall']:.1f} CPU-s; "
            f"Huey consumers {result['huey_cpu']:.1f} CPU-s")
        per_message = result["huey_cpu"] / count * 1000
        line = f"  Huey CPU per message: {per_message:.1f} ms with {args.rules} rules"
        if baseline is not None:
            without = baseline["huey_cpu"] / count * 1000
            line += f", {without:.1f} ms without rules: {per_message - without:.1f} ms of rules per message"
        say(line)
    finally:
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    sys.exit(main())
