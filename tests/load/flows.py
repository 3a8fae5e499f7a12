"""Benchmark: a menu flow answering customers through the sandbox hook — inbound → bot reply queued.

    .venv/bin/python tests/load/flows.py [--rate 50] [--seconds 20] [--server-workers 1]
        [--workers 2] [--huey-threads 2] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_flows`: one company (plan enterprise) with a sandbox inbox and
a published flow on it (new conversation → a greeting and a 2-option menu; option 1 → a question),
uvicorn and `--workers` Huey consumers (one per core, as a deployment runs them) as subprocesses.
The script posts customer messages to `POST /hooks/sandbox/{inbox}` at `--rate` a second (open
loop, one new customer each) for `--seconds`, then, once the greetings have left, every customer
answers "1" at the same rate. For each message it records when the request started; latency = the
`created_at` of the bot's first reply to it (the outbound Message row, queued for delivery) − that
moment, so it covers the hook, the drain and the flow step. Prints p50/p95/p99/max for new
conversations (session start + 2 replies) and for answers (one step, target p95 < 100 ms), the
hook's response times, and how the sessions ended up.

    .venv/bin/python tests/load/flows.py --cost [--count 50] [--batch 1] [--profile PATH] [--sql]

measures instead, without servers and in this process (Huey immediate, so the steps and the sandbox
deliveries the drain queues run inline), what the worker pays per conversation: SQL statements and
CPU-ms per new conversation and per answer, the drain fed `--batch` webhooks at a time (1: a quiet
company, each message its own drain cycle; 50: a burst). Figures that do not depend on the machine's
load, unlike the live latencies. `--sql` lists the statements by count; `--profile` writes cProfile
stats of the measured part and prints the top entries.
"""

import argparse
import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import _common
from _common import say

GRAPH = {
    "start": "welcome",
    "nodes": {
        "welcome": {
            "type": "message",
            "text": "Hi {{contact.first_name}}! This is the bench shop.",
            "next": "menu",
        },
        "menu": {
            "type": "menu",
            "text": "What do you need?",
            "variable": "topic",
            "options": [{"label": "Sales", "next": "ask"}, {"label": "Support", "next": "people"}],
        },
        "ask": {
            "type": "question",
            "text": "Your email?",
            "variable": "email",
            "validation": {"type": "email"},
            "next": "bye",
        },
        "bye": {"type": "end", "text": "Thanks!"},
        "people": {"type": "handoff", "text": "A person will answer."},
    },
}


def _setup(company):
    from django_tenants.utils import schema_context

    from apps.flows.services import flow_create, flow_publish
    from apps.inboxes.services import inbox_create

    with schema_context(company.schema_name):
        inbox = inbox_create(actor=None, name="Bench sandbox", provider="sandbox", credentials={})
        flow = flow_create(
            actor=None,
            name="Bench menu",
            graph=GRAPH,
            trigger={"type": "new_conversation", "inbox_id": inbox.pk},
        )
        flow_publish(actor=None, flow=flow)
    return inbox


async def _post_paced(stack, company, inbox, phones: list[str], text: str, rate: float) -> tuple[dict, list]:
    """Post `text` from each phone at `rate` a second (open loop); returns {phone: start} and the
    response times in ms."""
    import httpx

    started, response_ms, retries = {}, [], []
    headers = {"Host": f"{company.slug}.localhost:{stack.port}", "X-Sandbox-Token": inbox.sandbox_token}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.port}",
        headers=headers,
        timeout=30,
        limits=httpx.Limits(max_connections=64),
    ) as client:

        async def one(phone):
            started[phone] = time.time()
            begin = time.perf_counter()
            for attempt in range(3):
                try:
                    response = await client.post(
                        f"/hooks/sandbox/{inbox.pk}",
                        json={"from": phone, "name": "Bench Customer", "text": text},
                    )
                    break
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    # A kept-alive connection the server closed as the request left: never processed.
                    retries.append(phone)
                    if attempt == 2:
                        raise
            response_ms.append((time.perf_counter() - begin) * 1000)
            if response.status_code != 202:
                raise SystemExit(f"the hook answered {response.status_code}: {response.text[:300]}")

        tasks, origin = [], time.perf_counter()
        for index, phone in enumerate(phones):
            delay = origin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(phone)))
        await asyncio.gather(*tasks)
    if retries:
        say(f"  ({len(retries)} posts sent again after the server closed their connection)")
    return started, response_ms


def _first_replies(company, reply_text: str) -> dict:
    """{phone: created_at (epoch) of the first bot message with `reply_text` (or starting with it)}."""
    from django_tenants.utils import schema_context

    from apps.conversations.models import Message

    with schema_context(company.schema_name):
        rows = (
            Message.objects.filter(sender_type="bot", text__startswith=reply_text)
            .order_by("pk")
            .values_list("conversation__contact__phone", "created_at")
        )
        found = {}
        for phone, at in rows:
            found.setdefault(phone, at.timestamp())
        return found


def _wait_for(company, reply_text: str, expected: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = _first_replies(company, reply_text)
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _wait_delivered(company, timeout: float) -> int:
    """Wait until every bot message has left (the sandbox accepted it); returns those still pending.

    The answers are measured at their own rate, not behind the deliveries the greetings left queued.
    """
    from django_tenants.utils import schema_context

    from apps.conversations.models import Message

    deadline = time.monotonic() + timeout
    while True:
        with schema_context(company.schema_name):
            pending = Message.objects.filter(direction="outbound", status="pending").count()
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.5)


def _latencies(started: dict, replied: dict) -> list[float]:
    return [(replied[phone] - at) * 1000 for phone, at in started.items() if phone in replied]


def _cpu_per_conversation(stack, cpu: dict, count: int) -> str:
    """CPU the worker and the server spent since the last call, per conversation (resets `cpu`)."""
    spent = {}
    for label in cpu:
        now = stack.cpu(label)
        spent[label], cpu[label] = (now - cpu[label]) / count * 1000, now
    return ", ".join(f"{label} {ms:.1f}" for label, ms in spent.items())


def _outcomes(company) -> dict:
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from apps.flows.models import FlowSession

    with schema_context(company.schema_name):
        rows = FlowSession.objects.values("status", "node").annotate(n=Count("pk")).order_by()
        return {f"{row['status']} at {row['node']}": row["n"] for row in rows}


def _store_events(company, inbox, phones: list[str], text: str) -> None:
    """The webhooks of `phones` saying `text`, stored as the intake stores them (no drain asked)."""
    import json

    from django_tenants.utils import schema_context

    from apps.inboxes.models import WebhookEvent

    with schema_context(company.schema_name):
        WebhookEvent.objects.bulk_create([
            WebhookEvent(inbox=inbox, content_type="application/json", body=json.dumps(
                {"from": phone, "name": "Bench Customer", "text": text, "id": f"sbx-{text}-{phone}"}
            ).encode())
            for phone in phones
        ])


def _normalised(sql: str) -> str:
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r'"s\d+_x\d+"', "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\((\?, )+\?\)", "(?…)", sql)
    sql = re.sub(r"(, \(\?…\))+", ", …", sql)
    return sql[:160]


def _measure(company, inbox, phones, text, batch, profiler) -> tuple[int, float, Counter]:
    """Drain the webhooks of `phones` saying `text`, `batch` at a time: (statements, CPU-s, by SQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.conversations.drain import webhook_events_drain

    statements, cpu, by_sql = 0, 0.0, Counter()
    for start in range(0, len(phones), batch):
        _store_events(company, inbox, phones[start:start + batch], text)
        connection.close()  # each drain on a fresh connection, as a worker's task (close_db)
        connection.queries_log.clear()  # a full log (9000) would make the capture's slice wrong
        with CaptureQueriesContext(connection) as captured:
            began = time.process_time()
            if profiler is not None:
                profiler.enable()
            webhook_events_drain.call_local(company.schema_name)
            if profiler is not None:
                profiler.disable()
            cpu += time.process_time() - began
        statements += len(captured.captured_queries)
        by_sql.update(_normalised(query["sql"]) for query in captured.captured_queries)
        last = captured.captured_queries
    return statements, cpu, by_sql, last


def cost(args) -> None:
    """Statements and CPU per conversation in this process (see the module's docstring)."""
    import cProfile

    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    settings.DEBUG = True  # CaptureQueriesContext needs the cursor's debug wrapper: force_debug_cursor
    assert HUEY.immediate, "the cost mode runs the drain's tasks inline"
    company = _common.bench_company("flowcost")
    inbox = _setup(company)
    phones = [f"+55118{int(time.time()) % 100:02d}{i:06d}" for i in range(args.count)]
    profiler = cProfile.Profile() if args.profile else None
    for phase, text, expected in (("new conversation", "Hi", "Hi Bench"), ("answer", "1", "Your email?")):
        statements, cpu, by_sql, last = _measure(company, inbox, phones, text, args.batch, profiler)
        replied = len(_first_replies(company, expected))
        say(f"{phase}: {statements / args.count:.1f} statements and {cpu / args.count * 1000:.1f} CPU-ms "
            f"per conversation ({args.count} conversations, drained {args.batch} at a time; "
            f"{replied} replied)")
        if args.sql:
            for sql, n in by_sql.most_common(60):
                say(f"  {n / args.count:6.2f}  {sql}")
        if args.trace:
            say(f"  the last drain's statements, in order ({len(last)}):")
            for query in last:
                say(f"    {_normalised(query['sql'])[:110]}")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        _common.print_profile(Path(args.profile), 40, title="drain + steps + deliveries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50, help="new conversations (then answers) per second")
    parser.add_argument("--seconds", type=float, default=20, help="how long each phase posts")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn --workers")
    parser.add_argument("--workers", type=int, default=2, help="Huey consumer processes")
    parser.add_argument("--huey-threads", type=int, default=2, help="worker threads of each Huey consumer")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's and worker's logs")
    parser.add_argument("--cost", action="store_true", help="statements and CPU per conversation, in-process")
    parser.add_argument("--count", type=int, default=50, help="--cost: conversations")
    parser.add_argument("--batch", type=int, default=1, help="--cost: webhooks per drain")
    parser.add_argument("--sql", action="store_true", help="--cost: the statements by count")
    parser.add_argument("--trace", action="store_true", help="--cost: the last drain's statements in order")
    parser.add_argument("--profile", help="--cost: write cProfile stats here and print the top")
    _common.add_db_arguments(parser, default_db="conversa_bench_flows")
    args = parser.parse_args()
    if args.cost:
        _common.install_signal_handlers()
        fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
        _common.configure_environment(args.server, args.db)
        _common.setup_django(migrate=fresh)
        try:
            cost(args)
        finally:
            if not args.keep:
                _common.drop_database(args.server, args.db)
        return

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack, failed = None, True
    try:
        company = _common.bench_company("flows")
        inbox = _setup(company)
        _common.check_machine_idle()
        stack = _common.LiveStack()
        stack.start_server(workers=args.server_workers)
        for index in range(args.workers):
            stack.start_worker(threads=args.huey_threads, index=index)
        count = int(args.rate * args.seconds)
        phones = [f"+55119{run:02d}{i:06d}" for run in [int(time.time()) % 100] for i in range(count)]
        say(f"company {company.slug}, inbox {inbox.pk}; {count} customers at {args.rate:g}/s…")

        cpu = {"huey": stack.cpu("huey"), "uvicorn": stack.cpu("uvicorn")}
        started, hook_ms = asyncio.run(_post_paced(stack, company, inbox, phones, "Hi", args.rate))
        greeted = _wait_for(company, "Hi Bench! This is the bench shop.", count, timeout=60)
        new_ms = _latencies(started, greeted)
        _wait_delivered(company, timeout=60)
        time.sleep(1)
        new_cpu = _cpu_per_conversation(stack, cpu, count)
        answered_at, answer_hook_ms = asyncio.run(_post_paced(stack, company, inbox, phones, "1", args.rate))
        asked = _wait_for(company, "Your email?", count, timeout=60)
        answer_ms = _latencies(answered_at, asked)
        time.sleep(1)
        answer_cpu = _cpu_per_conversation(stack, cpu, count)

        say(f"new conversation → greeting queued ({len(new_ms)}/{count}): {_common.summary(new_ms)}")
        say(
            f"answer → next question queued ({len(answer_ms)}/{count}): {_common.summary(answer_ms)}"
            f"  [target p95 < 100 ms]"
        )
        say(f"hook response times: {_common.summary(hook_ms + answer_hook_ms)}")
        say(f"CPU-ms per conversation (whatever the machine's load): new conversation {new_cpu}; "
            f"answer {answer_cpu}")
        say(f"sessions by node: {_outcomes(company)}")
        failed = len(new_ms) < count or len(answer_ms) < count
    finally:
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
