"""Benchmark: auto-assignment latency, from a conversation joining a team's queue to its assignment.

    .venv/bin/python tests/load/routing.py [--agents 200] [--rate 50] [--duration 20]
        [--workers 2] [--threads 2] [--capacity 10] [--routing round_robin|least_busy]
        [--via webhook|receive|create] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_routing`: one company (plan enterprise) with `--agents`
available agents (created with `user_create`, MD5 password hashes in this process only), all
members of one team routed by `--routing` with `--capacity` each, and a sandbox inbox whose default
team it is. `--workers` Huey consumers (`run_huey`, `--threads` threads each) run as subprocesses.
Customers' first messages then arrive at a steady `--rate` for `--duration` seconds, each one from
a new customer, so each starts a conversation in the team's queue. By default (`--via webhook`) each
is stored as the sandbox hook stores it (`intake.webhook_receive`: the event row, the company's drain
flag, a drain queued), and the consumers do the rest as in production: the drain turns the stored
webhooks into messages in batches, and routing's trigger queues the team's routing task, which
assigns. `--via receive` calls `message_receive` in this process instead, one message per
transaction in a few threads (the producer then spends more CPU than the drain would), and
`--via create` creates the conversations directly with their `conversation.created` event (no
message, no contact look-up).

Latency = the conversation's `assigned_at` − its `queued_at` (the customer's message received),
both stamped by the processes on this machine. Target p95 < 100 ms (issue 12, acceptance 7). With
`--via webhook` it also prints webhook stored → assigned (the drain's wait included).
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _common
from _common import say


def _agents(company, count: int) -> list:
    """`count` available agents, created with user_create; MD5 hashes here only."""
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from apps.accounts.services import user_create, user_set_status

    users = []
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]), \
            schema_context(company.schema_name):
        for i in range(count):
            user = user_create(actor=None, email=f"agent{i}@{company.slug}.example.com",
                               password=_common.PASSWORD, name=f"Agent {i}")
            users.append(user_set_status(user=user, status="available"))
    return users


def _team(company, agents: list, *, routing: str, capacity: int):
    """The team and its routed inbox (the teams' own services come with the teams admin)."""
    from django_tenants.utils import schema_context

    from apps.inboxes.services import inbox_create
    from apps.teams.models import Team, TeamMember

    with schema_context(company.schema_name):
        team = Team.objects.create(name="Support", routing=routing)
        TeamMember.objects.bulk_create(
            TeamMember(team=team, user=agent, capacity=capacity) for agent in agents
        )
        inbox = inbox_create(actor=None, name="Bench sandbox", provider="sandbox", credentials={},
                             default_team=team)
    return team, inbox


def _contacts(company, count: int) -> list[int]:
    """`count` customers, inserted in bulk before the run (for `--via create`)."""
    from django_tenants.utils import schema_context

    from apps.contacts.models import Contact

    with schema_context(company.schema_name):
        made = Contact.objects.bulk_create(
            Contact(name=f"Customer {i}", phone=f"+55219{i:08d}") for i in range(count)
        )
    return [contact.pk for contact in made]


def _produce(company, inbox, *, rate: float, count: int, threads: int, via: str) -> dict:
    """`count` new conversations at `rate` per second; returns how late it ran."""
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.conversations import events
    from apps.conversations.inbound import message_receive
    from apps.conversations.models import Conversation
    from apps.inboxes.intake import webhook_receive
    from apps.inboxes.providers.base import InboundMessage
    from conversa.events import publish

    contacts = _contacts(company, count) if via == "create" else []
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
            if via == "webhook":
                body = {"from": f"+55219{i:08d}", "name": f"Customer {i}", "text": f"first message {i}",
                        "id": f"bench.routing.{i}"}
                with transaction.atomic():
                    webhook_receive(inbox=inbox, body=json.dumps(body).encode(),
                                    content_type="application/json")
            elif via == "create":
                # What message_receive does for a new customer, without the message: the queue's
                # side of the run costs the producer little, so routing has the machine.
                with transaction.atomic():
                    now = timezone.now()
                    conversation = Conversation.objects.create(
                        contact_id=contacts[i], inbox=inbox, team_id=inbox.default_team_id,
                        status=Conversation.Status.QUEUED, queued_at=now, last_message_at=now,
                    )
                    publish(events.CONVERSATION_CREATED, {"conversation_id": conversation.pk})
            else:
                message_receive(inbox=inbox, inbound=InboundMessage(
                    provider_message_id=f"bench.routing.{i}", from_phone=f"+55219{i:08d}",
                    profile_name=f"Customer {i}", kind="text", text=f"first message {i}",
                    timestamp=timezone.now(),
                ))
        connection.close()  # this thread's: the next call may run on another one

    with ThreadPoolExecutor(max_workers=threads) as pool:
        # Each thread takes the next due message as it frees up, so the schedule is kept in order.
        list(pool.map(send, range(count)))
    return {"late_ms": late[0] * 1000, "seconds": time.time() - started}


def _latencies(company, team) -> tuple[list[float], int]:
    from django_tenants.utils import schema_context

    from apps.conversations.models import Conversation

    with schema_context(company.schema_name):
        rows = list(Conversation.objects.filter(team=team).values_list("queued_at", "assigned_at"))
    done = [(assigned - queued).total_seconds() * 1000 for queued, assigned in rows if assigned]
    return done, len(rows) - len(done)


def _end_to_end(company, team) -> list[float]:
    """ms from each customer's webhook stored to their conversation's assignment."""
    from django.db.models import OuterRef, Subquery
    from django_tenants.utils import schema_context

    from apps.conversations.models import Conversation, Message
    from apps.inboxes.models import WebhookEvent

    with schema_context(company.schema_name):
        first = Message.objects.filter(conversation=OuterRef("pk"), direction="inbound").order_by("pk")
        rows = Conversation.objects.filter(team=team, assigned_at__isnull=False).annotate(
            message_id=Subquery(first.values("provider_message_id")[:1]),
        ).values_list("message_id", "assigned_at")
        received = {}
        for event_body, at in WebhookEvent.objects.values_list("body", "received_at"):
            received[json.loads(bytes(event_body))["id"]] = at
        return [(assigned - received[mid]).total_seconds() * 1000
                for mid, assigned in rows if mid in received]


def _wait_assigned(company, team, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, waiting = _latencies(company, team)
        if len(done) >= expected:
            return
        time.sleep(0.2)


VIA = {
    "webhook": "stored as webhooks in this process, drained by the consumers",
    "receive": "message_receive in this process",
    "create": "created with their event in this process",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200, help="available agents in the team")
    parser.add_argument("--rate", type=float, default=50, help="new conversations per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds of steady arrivals")
    parser.add_argument("--workers", type=int, default=2, help="Huey consumer processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per consumer")
    parser.add_argument("--capacity", type=int, default=10, help="each member's capacity")
    parser.add_argument("--routing", choices=("round_robin", "least_busy"), default="round_robin")
    parser.add_argument("--via", choices=("webhook", "receive", "create"), default="webhook",
                        help="customers' webhooks stored for the consumers' drain, message_receive in "
                             "this process, or conversations created directly with their event")
    parser.add_argument("--producer-threads", type=int, default=4,
                        help="threads producing (to keep the schedule)")
    parser.add_argument("--drain", type=float, default=15,
                        help="seconds to wait for the last assignments after the last arrival")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs")
    _common.add_db_arguments(parser, default_db="conversa_bench_routing")
    args = parser.parse_args()
    count = max(1, round(args.rate * args.duration))

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack, failed = None, True
    try:
        from huey.contrib.djhuey import HUEY

        company = _common.bench_company("rt")
        started = time.perf_counter()
        agents = _agents(company, args.agents)
        team, inbox = _team(company, agents, routing=args.routing, capacity=args.capacity)
        say(f"company {company.slug}: {len(agents)} available agents in a {args.routing} team "
            f"(capacity {args.capacity} each) in {time.perf_counter() - started:.1f} s")
        _common.check_machine_idle()
        stack = _common.LiveStack()
        for index in range(args.workers):
            stack.start_worker(threads=args.threads, index=index)
        deadline = time.monotonic() + 30
        while HUEY.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)  # the consumers are up and have taken the set-up's tasks
        time.sleep(1)
        stack.check_alive()

        cpu_before = stack.cpu("huey")
        services_before = _common.service_cpu_seconds()
        busy_before, wall_before = _common.machine_busy_seconds(), time.time()
        produced = _produce(company, inbox, rate=args.rate, count=count, threads=args.producer_threads,
                            via=args.via)
        _wait_assigned(company, team, count, args.drain)
        wall = time.time() - wall_before
        huey_cpu = stack.cpu("huey") - cpu_before
        services = {k: v - services_before[k] for k, v in _common.service_cpu_seconds().items()}
        busy = _common.machine_busy_seconds() - busy_before
        stack.check_alive()

        done, waiting = _latencies(company, team)
        say("")
        say(f"configuration: {args.agents} agents, {args.routing}, capacity {args.capacity}; "
            f"{args.workers} Huey consumers × {args.threads} threads; {count} new conversations at "
            f"{args.rate:g}/s ({VIA[args.via]}, {args.producer_threads} threads)")
        say(f"producer: at most {produced['late_ms']:.0f} ms behind its schedule, "
            f"{produced['seconds']:.1f} s for {count}")
        say(f"assigned {len(done)} of {count}; {waiting} still waiting after the drain")
        if done:
            p95 = _common.percentile(done, 95)
            verdict = "PASS" if p95 < 100 and not waiting else "FAIL"
            say(f"queued → assigned latency: {_common.summary(done)} (target p95 < 100 ms: {verdict})")
        if args.via == "webhook":
            say(f"webhook stored → assigned: {_common.summary(_end_to_end(company, team))}")
        say(f"CPU over the {wall:.1f} s run, in CPU-s: machine busy {busy:.1f} of "
            f"{(os.cpu_count() or 1) * wall:.1f} available; Huey {huey_cpu:.1f}, "
            f"PostgreSQL {services['postgres']:.1f}, Redis {services['redis']:.1f}, "
            f"this process (producer) {time.process_time():.1f} in all")
        if done:
            say(f"  per assignment: Huey {huey_cpu / len(done) * 1000:.1f} ms of CPU (the routing task, "
                f"the assignment's write and its realtime frames)")
        failed = False
    finally:
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    sys.exit(main())
