"""Benchmark: sustained inbound webhook throughput with a real server and worker.

    .venv/bin/python tests/load/ingest.py [--messages 2000] [--concurrency 32] [--customers 1000]
        [--server-workers 2] [--huey-processes 1] [--huey-threads 8] [--client httpx|raw]
        [--ws-server-workers N] [--env NAME=VALUE] [--worker-env NAME=VALUE]
        [--profile [--sort tottime]] [--profile-server] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_ingest`: one company (plan enterprise) with a WhatsApp Cloud
inbox, uvicorn (`conversa.asgi`, `--workers N`) and Huey consumers started as subprocesses, and
the company's admin signed in through `POST /api/v1/auth/login` with one websocket open. After
`--warmup` messages (not counted), `--probe` webhooks sent one at a time (unloaded response times)
and an ANALYZE of the company's tables, the script posts `--messages` signed Meta webhooks
(`POST /hooks/whatsapp/{inbox}`, `--concurrency` in flight, from `--customers` distinct phones)
and measures:

- each webhook's response time at the client (p50/p95/p99; target p95 < 50 ms);
- throughput pushed: messages / (last `message.created` frame on the socket − first send)
  (target ≥ 300 messages/s), and persisted: the same up to the moment the Message rows (counted
  every 100 ms) reached the total;
- the CPU each party used (uvicorn, Huey, PostgreSQL, Redis, this load generator; from /proc),
  PostgreSQL's own counters per message, and what became of the stored webhook events.

The load generator shares the machine: `--client raw` writes HTTP/1.1 by hand for a fraction of
httpx's CPU per request. `--ws-server-workers` serves the websocket from a uvicorn of its own.
`--env`/`--worker-env` pass settings to every process / to the Huey consumers only.

`--profile` then stops the worker, posts `--profile-messages` more webhooks and processes them
in this process as the worker's drain does, in batches of `--profile-batch` (event fan-out
included), half timed plainly and half under cProfile, and does the same for the webhook view
through Django's test client, with the queries each runs (`--sort tottime` for the functions' own
time). `--profile-server` runs uvicorn as one process under cProfile (its event-loop thread; sync
views run elsewhere).
"""

import argparse
import asyncio
import json
import os
import time

import _common
from _common import PASSWORD, say

PHONE_NUMBER_ID = "100200300400500"
APP_SECRET = "bench-app-secret"
TEXT_PREFIX = "bench-ingest"


def _webhooks(count: int, customers: int, *, first: int = 0, tag: str = "m") -> list[tuple[bytes, str]]:
    """(body, signature) of `count` text messages, customer i % customers, numbered from `first`."""
    from tests.fakes.webhooks import meta_signature, meta_text_message

    bodies = []
    for i in range(first, first + count):
        phone = f"55119{(i % customers):08d}"
        body = meta_text_message(PHONE_NUMBER_ID, phone, f"{TEXT_PREFIX} {tag}{i}",
                                 name=f"Customer {i % customers}", msg_id=f"wamid.bench.{tag}.{i}")
        bodies.append((body, meta_signature(body, APP_SECRET)))
    return bodies


class Socket:
    """One agent websocket: records when each `message.created` frame of ours arrived."""

    def __init__(self, url: str, port: int):
        self.url, self.port = url, port
        self.received: dict[str, float] = {}
        self.frames = 0
        self.changed = asyncio.Event()

    async def run(self, ready: asyncio.Event) -> None:
        import websockets

        async with websockets.connect(self.url, host="127.0.0.1", port=self.port, max_queue=None) as ws:
            first = json.loads(await ws.recv())
            if first.get("type") != "ready":
                raise SystemExit(f"websocket: expected a ready frame, got {first}")
            ready.set()
            async for raw in ws:
                now = time.time()
                self.frames += 1
                frame = json.loads(raw)
                if frame.get("type") != "message.created":
                    continue
                text = frame["data"].get("text") or ""
                if text.startswith(TEXT_PREFIX):
                    self.received[text.split(" ", 1)[1]] = now
                    self.changed.set()

    async def wait_for(self, keys: list[str], *, stall: float) -> bool:
        """Until every key arrived (True) or nothing new came for `stall` seconds (False)."""
        wanted = set(keys)
        while not wanted.issubset(self.received):
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), stall)
            except TimeoutError:
                return False
        return True


class HttpxPoster:
    """Webhooks through one shared httpx.AsyncClient (its connection pool)."""

    label = "httpx.AsyncClient"

    def __init__(self, client, path: str):
        self.client, self.path = client, path

    async def session(self):
        return self

    async def post(self, body: bytes, signature: str) -> int:
        response = await self.client.post(self.path, content=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": signature,
        })
        return response.status_code

    async def close(self) -> None:
        pass


class RawPoster:
    """Webhooks as hand-written HTTP/1.1 keep-alive requests, one connection per worker: a small
    fraction of httpx's CPU per request, which matters when the generator shares 2 cores."""

    label = "raw HTTP/1.1 over asyncio streams"

    def __init__(self, port: int, host: str, path: str):
        self.port = port
        self.head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        self.streams = None

    async def session(self):
        session = RawPoster.__new__(RawPoster)
        session.port, session.head, session.streams = self.port, self.head, None
        return session

    async def post(self, body: bytes, signature: str) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        try:
            writer.write(f"{self.head}X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
                         .encode() + body)
            status = await reader.readline()
            if not status:
                raise ConnectionResetError("connection closed by the server")
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            await self.close()
            raise
        if close:
            await self.close()
        return int(status.split()[1])

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _post_retrying(session, body: bytes, signature: str, statuses: dict) -> int | None:
    """The response status, or None after three transport errors in a row. A keep-alive connection
    the server closed meanwhile (its idle timeout) is reopened and the webhook sent again, as
    providers retry; the provider message id makes the retry harmless. Each retry is counted."""
    import httpx

    for _ in range(3):
        try:
            return await session.post(body, signature)
        except (httpx.TransportError, OSError, asyncio.IncompleteReadError) as exc:
            key = f"transport error ({exc.__class__.__name__}), retried"
            statuses[key] = statuses.get(key, 0) + 1
            await session.close()  # the next post opens a new connection
    return None


async def _post_all(poster, bodies: list[tuple[bytes, str]], concurrency: int,
                    sent: list[float], durations: list[float], statuses: dict) -> None:
    position = 0

    async def worker():
        nonlocal position
        session = await poster.session()
        while position < len(bodies):
            index = position
            position += 1
            body, signature = bodies[index]
            started = time.time()
            sent[index] = started
            status = await _post_retrying(session, body, signature, statuses)
            if status is None:
                raise ConnectionError(f"webhook {index}: three transport errors in a row")
            durations[index] = (time.time() - started) * 1000
            statuses[status] = statuses.get(status, 0) + 1
        await session.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _post_at_rate(poster, bodies: list[tuple[bytes, str]], rate: float,
                        sent: list[float], durations: list[float], statuses: dict) -> None:
    """Open loop: webhook i leaves at start + i / rate whatever became of the earlier ones, as
    providers send them, on as many keep-alive connections as are busy at once. Response times
    count from the scheduled moment, so a late send (no free connection, a busy client) is the
    server's delay too rather than a sample left out."""

    idle: list = []
    start = time.time() + 0.05

    async def one(index: int) -> None:
        body, signature = bodies[index]
        scheduled = start + index / rate
        sent[index] = scheduled
        session = idle.pop() if idle else await poster.session()
        status = await _post_retrying(session, body, signature, statuses)
        if status is None:
            return
        durations[index] = (time.time() - scheduled) * 1000
        statuses[status] = statuses.get(status, 0) + 1
        idle.append(session)

    tasks = []
    for index in range(len(bodies)):
        delay = start + index / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    for session in idle:
        await session.close()


async def _count_rows(url: str, table: str, timeline: list[tuple[float, int]], stop: asyncio.Event) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            row = await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone()
            timeline.append((time.time(), row[0]))
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass


def _reached(timeline: list[tuple[float, int]], count: int) -> float | None:
    return next((at for at, rows in timeline if rows >= count), None)


async def _run(args, stack, company, inbox, ws_port: int) -> dict:
    import httpx

    from apps.conversations.models import Message

    host = f"{company.slug}.localhost:{stack.port}"
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.port}", headers={"Host": host}, timeout=30,
        limits=httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency),
    )
    async with client:
        response = await client.post("/api/v1/auth/login", json={
            "email": f"admin@{company.slug}.example.com", "password": PASSWORD,
        })
        if response.status_code != 200:
            raise SystemExit(f"login failed: {response.status_code} {response.text}")
        token = response.json()["access"]
        ws_host = f"{company.slug}.localhost:{ws_port}"
        socket = Socket(f"ws://{ws_host}/ws/v1/?token={token}", ws_port)
        ready = asyncio.Event()
        listener = asyncio.create_task(socket.run(ready))
        await asyncio.wait_for(ready.wait(), 15)
        path = f"/hooks/whatsapp/{inbox.pk}"
        poster = HttpxPoster(client, path) if args.client == "httpx" else RawPoster(stack.port, host, path)

        # Warm-up (not counted): every server and worker process imports and connects once.
        warm = _webhooks(args.warmup, args.warmup, tag="w")
        await _post_all(poster, warm, min(args.concurrency, args.warmup), [0.0] * len(warm),
                        [0.0] * len(warm), {})
        warm_keys = [f"w{i}" for i in range(len(warm))]
        if not await socket.wait_for(warm_keys, stall=args.stall):
            stack.check_alive()
            missing = len(set(warm_keys) - set(socket.received))
            events = await asyncio.to_thread(_webhook_event_statuses, company.schema_name)
            say(f"!! warm-up: {missing} of {len(warm)} messages never reached the websocket; "
                f"stored webhook events by status: {events}")
        # Unloaded: one webhook at a time, the floor under the loaded response times.
        probe = _webhooks(args.probe, args.probe, tag="q")
        probe_durations = [0.0] * len(probe)
        await _post_all(poster, probe, 1, [0.0] * len(probe), probe_durations, {})
        await socket.wait_for([f"q{i}" for i in range(len(probe))], stall=args.stall)

        # A new company's tables have no planner statistics until autovacuum's first pass (up to a
        # minute later): without them lookups by phone or provider id scan whole tables.
        await asyncio.to_thread(_analyze, company.schema_name)
        await asyncio.sleep(0.5)

        bodies = _webhooks(args.messages, args.customers, tag="m")
        keys = [f"m{i}" for i in range(args.messages)]
        sent, durations, statuses = [0.0] * len(bodies), [0.0] * len(bodies), {}
        table = f'"{company.schema_name}"."{Message._meta.db_table}"'
        timeline: list[tuple[float, int]] = []
        stop_counting = asyncio.Event()
        counter = asyncio.create_task(_count_rows(_db_url(), table, timeline, stop_counting))
        await asyncio.sleep(0.2)
        baseline = timeline[-1][1] if timeline else 0

        db_before = await asyncio.to_thread(_common.database_counters, args.server, args.db)
        cpu_before = {name: stack.cpu(name) for name in ("uvicorn", "huey")}
        cpu_before.update(_common.service_cpu_seconds())
        busy_before, own_before = _common.machine_busy_seconds(), time.process_time()
        wall_before = time.time()
        await _post_all(poster, bodies, args.concurrency, sent, durations, statuses)
        posted_at = time.time()
        complete = await socket.wait_for(keys, stall=args.stall)
        done_at = time.time()
        cpu_after = {name: stack.cpu(name) for name in ("uvicorn", "huey")}
        cpu_after.update(_common.service_cpu_seconds())
        cpu = {name: cpu_after[name] - before for name, before in cpu_before.items()}
        busy, own = _common.machine_busy_seconds() - busy_before, time.process_time() - own_before
        db_after = await asyncio.to_thread(_common.database_counters, args.server, args.db)
        paced = await _run_paced(args, poster, socket, company.schema_name) if args.rate_messages else None
        await asyncio.sleep(0.3)
        stop_counting.set()
        await counter
        listener.cancel()
        stack.check_alive()
        events = await asyncio.to_thread(_webhook_event_statuses, company.schema_name)
        errors = _last_error(stack.log_tail("uvicorn", 20000)) if set(statuses) - {200} else ""
    database = {key: db_after[key] - db_before[key] for key in db_before}
    return dict(
        database=database, events=events, errors=errors, sent=sent, durations=durations, statuses=statuses,
        received=socket.received, keys=keys, complete=complete, posted_at=posted_at, done_at=done_at,
        timeline=timeline, baseline=baseline, cpu=cpu, busy=busy, own=own, wall=done_at - wall_before,
        frames=socket.frames, probe=probe_durations, paced=paced,
    )


async def _run_paced(args, poster, socket, schema: str) -> dict:
    """`--rate-messages` webhooks offered at `--rate` per second (open loop, new customers' and
    known ones' alike), once the closed-loop backlog is gone."""
    await asyncio.sleep(1)
    bodies = _webhooks(args.rate_messages, args.customers, first=args.messages, tag="r")
    keys = [f"r{i}" for i in range(args.messages, args.messages + args.rate_messages)]
    sent, durations, statuses = [0.0] * len(bodies), [0.0] * len(bodies), {}
    await _post_at_rate(poster, bodies, args.rate, sent, durations, statuses)
    posted_at = time.time()
    complete = await socket.wait_for(keys, stall=args.stall)
    received = {i: socket.received[key] for i, key in enumerate(keys) if key in socket.received}
    missing = [key for key in keys if key not in socket.received]
    return dict(sent=sent, durations=[d for d in durations if d], statuses=statuses, complete=complete,
                posted_at=posted_at, received=list(received.values()),
                latency=[(at - sent[i]) * 1000 for i, at in received.items()],
                missing=await asyncio.to_thread(_whereabouts, schema, missing[:20]) if missing else [])


def _whereabouts(schema: str, keys: list[str]) -> list[str]:
    """Where each webhook whose frame never came got to: its stored event, its message."""
    import psycopg

    found = []
    with psycopg.connect(_db_url(), autocommit=True) as conn:
        for key in keys:
            tag, number = key[0], key[1:]
            events = conn.execute(
                f'SELECT status, attempts, error FROM "{schema}".inboxes_webhookevent '
                "WHERE position(%s::bytea in body) > 0",
                [f'"wamid.bench.{tag}.{number}"'.encode()],
            ).fetchall()
            messages = conn.execute(
                f'SELECT count(*) FROM "{schema}".conversations_message WHERE text = %s',
                [f"{TEXT_PREFIX} {key}"],
            ).fetchone()[0]
            found.append(f"{key}: events {events or 'none'}, messages {messages}")
    return found


def _last_error(log: str) -> str:
    """The last traceback's final line in a log, to say why requests failed."""
    lines = [line for line in log.splitlines() if line and not line.startswith((" ", "Traceback"))]
    errors = [line for line in lines if "Error" in line or "Exception" in line]
    return errors[-1][:300] if errors else ""


def _webhook_event_statuses(schema: str) -> dict[str, int]:
    from django.db import connections
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from apps.inboxes.models import WebhookEvent

    with schema_context(schema):
        rows = WebhookEvent.objects.values_list("status").annotate(n=Count("id")).order_by()
        statuses = {status: n for status, n in rows}
    connections.close_all()
    return statuses


def _analyze(schema: str) -> None:
    import psycopg

    with psycopg.connect(_db_url(), autocommit=True) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema]).fetchall()
        for (table,) in tables:
            conn.execute(f'ANALYZE "{schema}"."{table}"')


def _db_url() -> str:
    return os.environ["DATABASE_URL"]


def _report(args, result: dict) -> None:
    n = args.messages
    first_send = min(result["sent"])
    receipts = [result["received"][key] for key in result["keys"] if key in result["received"]]
    durations = result["durations"]
    say("")
    extra = "".join(f"; env {item}" for item in args.env) + "".join(
        f"; worker env {item}" for item in args.worker_env)
    if args.ws_server_workers:
        extra += f"; websocket on a separate uvicorn --workers {args.ws_server_workers}"
    say(f"configuration: uvicorn --workers {args.server_workers}; {args.huey_processes} Huey consumer "
        f"process(es) × {args.huey_threads} threads; {args.concurrency} webhooks in flight ({args.client}) "
        f"from {args.customers} customers; {args.warmup} warm-up messages not counted, then ANALYZE{extra}")
    say(f"responses: {dict(sorted(result['statuses'].items(), key=str))}; all {n} posted in "
        f"{result['posted_at'] - first_send:.2f} s ({n / (result['posted_at'] - first_send):.0f} webhooks/s "
        "accepted)")
    if result["errors"]:
        say(f"!! last error in the server log: {result['errors']}")
    if not result["complete"]:
        say(f"!! only {len(receipts)} of {n} messages reached the websocket "
            f"(nothing new for {args.stall:.0f} s)")
    if receipts:
        elapsed = max(receipts) - first_send
        rate = len(receipts) / elapsed
        verdict = "PASS" if result["complete"] and rate >= 300 else "FAIL"
        say(f"ingest throughput (pushed): {len(receipts)} messages persisted and pushed to the websocket in "
            f"{elapsed:.2f} s = {rate:.0f} messages/s (target ≥ 300 messages/s: {verdict})")
        ordered = sorted(receipts)
        lo, hi = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
        if hi > lo:
            say(f"  steady part (10th to 90th percentile of receipts): "
                f"{(len(ordered) * 9 // 10 - len(ordered) // 10) / (hi - lo):.0f} messages/s")
        latency = [(result["received"][key] - result["sent"][i]) * 1000
                   for i, key in enumerate(result["keys"]) if key in result["received"]]
        say(f"  webhook sent → frame received, per message: {_common.summary(latency)}")
    reached = _reached(result["timeline"], result["baseline"] + n)
    if reached:
        say(f"ingest throughput (persisted): {n} Message rows in {reached - first_send:.2f} s = "
            f"{n / (reached - first_send):.0f} messages/s (row count polled every 100 ms)")
    else:
        rows = result["timeline"][-1][1] - result["baseline"] if result["timeline"] else 0
        say(f"ingest throughput (persisted): only {rows} of {n} Message rows appeared")
    p95 = _common.percentile(durations, 95)
    say(f"webhook response time: p50 {_common.percentile(durations, 50):.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {_common.percentile(durations, 99):.1f} ms, max {max(durations):.1f} ms over {n} requests "
        f"(target p95 < 50 ms: {'PASS' if p95 < 50 else 'FAIL'})")
    if result["paced"]:
        _report_paced(args, result["paced"])
    if result["probe"]:
        say(f"webhook response time unloaded (one at a time, {len(result['probe'])} requests): "
            f"{_common.summary(result['probe'])}")
    wall, cpu = result["wall"], dict(result["cpu"], generator=result["own"])
    cpu["other"] = result["busy"] - sum(cpu.values())
    labels = {"uvicorn": "uvicorn", "huey": "Huey", "generator": "this load generator",
              "postgres": "PostgreSQL", "redis": "Redis",
              "other": "everything else (kernel, other processes)"}
    say(f"CPU over the {wall:.1f} s run, in CPU-s (ms per message): machine busy {result['busy']:.1f} of "
        f"{(os.cpu_count() or 1) * wall:.1f} available; "
        + ", ".join(f"{labels[key]} {value:.1f} ({value * 1000 / n:.1f})" for key, value in cpu.items()))
    system = sum(cpu[key] for key in ("uvicorn", "huey", "postgres", "redis")) * 1000 / n
    cores = os.cpu_count() or 1
    say(f"capacity estimate: server, worker, PostgreSQL and Redis used {system:.1f} ms of CPU per message, "
        f"so {cores} dedicated cores would carry at most ~{cores * 1000 / system:.0f} messages/s "
        "(load generator and other processes excluded)")
    say(f"stored webhook events by status at the end: {result['events']}")
    database = result["database"]
    say("PostgreSQL per message: " + ", ".join(f"{value / n:.1f} {key}" for key, value in database.items())
        + " (pg_stat_database; sessions = new connections, each a server process start)")
    say(f"websocket frames received in all: {result['frames']} (message.created plus contact and "
        "conversation events)")


def _report_paced(args, paced: dict) -> None:
    n, offered = args.rate_messages, args.rate
    elapsed = paced["posted_at"] - paced["sent"][0]
    say(f"at a steady {offered:.0f} webhooks/s offered (open loop, {n} webhooks over {elapsed:.1f} s): "
        f"responses {dict(sorted(paced['statuses'].items(), key=str))}")
    if not paced["complete"]:
        say(f"!! only {len(paced['received'])} of {n} paced messages reached the websocket; "
            f"the first missing: {'; '.join(paced['missing'])}")
    durations = paced["durations"]
    p95 = _common.percentile(durations, 95) if durations else float("inf")
    say(f"  webhook response time: {_common.summary(durations)} (from each webhook's scheduled moment; "
        f"target p95 < 50 ms: {'PASS' if p95 < 50 and paced['complete'] else 'FAIL'})")
    if paced["received"]:
        span = max(paced["received"]) - paced["sent"][0]
        say(f"  kept up: {len(paced['received'])} messages pushed in {span:.2f} s = "
            f"{len(paced['received']) / span:.0f} messages/s; webhook sent → frame received: "
            f"{_common.summary(paced['latency'])}")


def _profile(args, stack, company, inbox) -> None:
    """The worker's and the webhook's work per message, in this process, under cProfile."""
    import cProfile
    import io
    import pstats

    import httpx
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from apps.conversations.drain import BATCH_SIZE, process_fresh_events
    from apps.inboxes.models import WebhookEvent

    stack.stop("huey")
    count = args.profile_messages
    bodies = _webhooks(count, max(1, count // 3), first=0, tag="p")
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}",
                      headers={"Host": f"{company.slug}.localhost:{stack.port}"}) as client:
        for body, signature in bodies:
            client.post(f"/hooks/whatsapp/{inbox.pk}", content=body,
                        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
    with schema_context(company.schema_name):
        pending = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, attempts=0).count()
        # First batch outside the measurements: imports and the first channel-layer connection.
        first = process_fresh_events(args.profile_batch)
        plain = (pending - first) // 2
        started = time.perf_counter()
        done = 0
        while done < plain:
            done += process_fresh_events(min(args.profile_batch, plain - done))
        plain_ms = (time.perf_counter() - started) * 1000 / max(done, 1)
        profiler = cProfile.Profile()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            profiler.enable()
            n = 0
            while taken := process_fresh_events(args.profile_batch):
                n += taken
            profiler.disable()
            elapsed = time.perf_counter() - started
    n = max(n, 1)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    say(f"\nworker path (the drain's process_fresh_events, batches of {args.profile_batch} (the drain's: "
        f"{BATCH_SIZE}), + the fan-out after commit), in this process: {plain_ms:.2f} ms per webhook over "
        f"{done}; {elapsed * 1000 / n:.2f} ms each under cProfile over {n}, "
        f"{len(queries.captured_queries) / n:.2f} queries each")
    _query_shapes(queries.captured_queries, n)
    say(out.getvalue().rstrip())

    # The view, through Django's (sync) handler and the full middleware stack.
    client = Client(HTTP_HOST=f"{company.slug}.localhost")
    view_bodies = _webhooks(count, count, first=0, tag="v")

    def post(body: bytes, signature: str) -> None:
        client.post(f"/hooks/whatsapp/{inbox.pk}", data=body, content_type="application/json",
                    HTTP_X_HUB_SIGNATURE_256=signature)

    post(*view_bodies[0])
    plain_bodies, profiled_bodies = view_bodies[1:count // 2], view_bodies[count // 2:]
    started = time.perf_counter()
    for body, signature in plain_bodies:
        post(body, signature)
    plain_ms = (time.perf_counter() - started) * 1000 / max(len(plain_bodies), 1)
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        profiler.enable()
        for body, signature in profiled_bodies:
            post(body, signature)
        profiler.disable()
        elapsed = time.perf_counter() - started
    n = len(profiled_bodies)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    say(f"\nwebhook view through the middleware (Django test client, queue push included): "
        f"{plain_ms:.2f} ms each over {len(plain_bodies)} requests; {elapsed * 1000 / n:.2f} ms each under "
        f"cProfile over {n}, {len(queries.captured_queries) / n:.1f} queries each")
    _query_shapes(queries.captured_queries, n)
    say(out.getvalue().rstrip())


def _query_shapes(captured: list[dict], n: int) -> None:
    """The statements per message, grouped by their first words, most frequent first."""
    import re

    shapes: dict[str, int] = {}
    for query in captured:
        sql = re.sub(r"\s+", " ", query["sql"])
        sql = re.sub(r'SAVEPOINT "[^"]+"', "SAVEPOINT", sql)
        sql = re.sub(r'search_path = .*', "search_path = …", sql)
        key = sql[:110]
        if sql.startswith("SELECT"):
            table = re.search(r' FROM ("[^"]+"\.)?"([^"]+)"', sql)
            key = f"SELECT … FROM {table.group(2) if table else '?'}" + (" FOR UPDATE" if "FOR UPDATE" in sql
                                                                          else "")
        elif sql.startswith(("INSERT", "UPDATE")):
            key = " ".join(sql.split()[:3])
        shapes[key] = shapes.get(key, 0) + 1
    for key, times in sorted(shapes.items(), key=lambda item: -item[1]):
        say(f"    {times / n:5.2f} × {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="webhooks in the timed run")
    parser.add_argument("--concurrency", type=int, default=32, help="webhooks in flight")
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx",
                        help="load generator: httpx.AsyncClient, or hand-written HTTP/1.1 (far less CPU)")
    parser.add_argument("--customers", type=int, default=1000, help="distinct customer phones")
    parser.add_argument("--rate", type=float, default=300,
                        help="webhooks per second offered in the paced (open-loop) phase")
    parser.add_argument("--rate-messages", type=int, default=3000,
                        help="webhooks in the paced phase, after the closed-loop run (0: skip it)")
    parser.add_argument("--warmup", type=int, default=64, help="untimed messages first")
    parser.add_argument("--probe", type=int, default=100,
                        help="webhooks sent one at a time before the run, for unloaded response times")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn --workers")
    parser.add_argument("--ws-server-workers", type=int, default=0,
                        help="serve the websocket from its own uvicorn with this many workers (0: the same)")
    parser.add_argument("--huey-processes", type=int, default=1, help="Huey consumer processes")
    parser.add_argument("--huey-threads", type=int, default=8, help="worker threads per consumer")
    parser.add_argument("--stall", type=float, default=20,
                        help="give up when no frame arrived for this many seconds")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's and workers' logs")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for this process, the server and the workers (repeatable), "
                             "e.g. DB_CONN_MAX_AGE=60")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the Huey consumers only, e.g. DB_CONN_MAX_AGE=60 "
                             "(their threads are long-lived, unlike the ASGI server's)")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, cProfile the worker's and the view's work per message in-process")
    parser.add_argument("--profile-server", action="store_true",
                        help="run uvicorn as one process under cProfile and print where it spent its time")
    parser.add_argument("--profile-messages", type=int, default=300, help="messages --profile processes")
    parser.add_argument("--profile-batch", type=int, default=50, help="events per batch under --profile")
    parser.add_argument("--top", type=int, default=30, help="entries --profile prints")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative",
                        help="order of the --profile listings")
    _common.add_db_arguments(parser, default_db="conversa_bench_ingest")
    args = parser.parse_args()
    if args.profile_server:
        args.server_workers = 1  # one process, under cProfile

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment(**dict(item.split("=", 1) for item in args.env))
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    worker_env = dict(item.split("=", 1) for item in args.worker_env)
    stack, failed = None, True
    try:
        company = _common.bench_company("ingest")
        inbox = _common.meta_inbox(company, phone_number_id=PHONE_NUMBER_ID, app_secret=APP_SECRET)
        _common.check_machine_idle()
        stack = _common.LiveStack()
        profile_to = stack.log_dir / "uvicorn.prof" if args.profile_server else None
        stack.start_server(workers=1 if profile_to else args.server_workers, profile_to=profile_to)
        ws_port = stack.port
        if args.ws_server_workers:
            ws_port = stack.start_server(workers=args.ws_server_workers, label="uvicorn-ws")
        for index in range(args.huey_processes):
            stack.start_worker(threads=args.huey_threads, index=index, env=worker_env)
        say(f"company {company.slug}, inbox {inbox.pk}; uvicorn on 127.0.0.1:{stack.port} "
            f"({args.server_workers} workers), {args.huey_processes} Huey consumer(s) × {args.huey_threads} "
            f"threads; posting {args.messages} webhooks…")
        result = asyncio.run(_run(args, stack, company, inbox, ws_port))
        _report(args, result)
        if args.profile:
            _profile(args, stack, company, inbox)
        if profile_to:
            stack.stop("uvicorn")
            _common.print_profile(profile_to, args.top, title="uvicorn (one process) under cProfile")
        failed = False
    finally:
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
