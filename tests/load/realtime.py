"""Benchmark: latency from message creation to receipt on 200 connected agent websockets.

    .venv/bin/python tests/load/realtime.py [--agents 200] [--rate 10] [--duration 15]
        [--via direct|webhook] [--server-workers 2] [--no-deflate] [--env NAME=VALUE]
        [--profile-server] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_realtime`: one company (plan enterprise) with `--agents`
agents (created with `user_create`, with MD5 password hashes in this process only; their access
tokens are minted in-process as the login endpoint would, to spare 200 slow password hashes) and
a WhatsApp Cloud inbox; uvicorn (`conversa.asgi`,
`--workers N`) as a subprocess. Every agent opens `/ws/v1/?token=…` from this process and waits for
its `ready` frame. Then customers' messages are created at a steady `--rate` for `--duration`
seconds, each text carrying its send time, and every socket records when its `message.created`
frame arrived:

- `--via direct` (default): a producer subprocess calls `apps.conversations.inbound.message_receive`
  in the company's schema inside `delivered_together()`, what the Huey worker's drain does for a
  webhook; the events are published in that process after commit (the realtime subscriber
  re-reads the rows and sends to the channel layer), the server relays them to the sockets;
- `--via webhook`: signed Meta webhooks posted to the server, processed by Huey consumers.

Latency = receipt − the message's `created_at` (the row's creation, as the frame carries it), for
every (message, socket) pair; also from the producer's send time. Target p99 < 100 ms. The 200
client sockets run in this process and share the machine's cores with the server: their CPU is
reported. Their process's garbage collector is off while they measure (`_collector_paused`): its
full collections walk every receipt recorded so far (150,000 at 500 sockets × 20/s) and stopped
all 500 sockets for 100–200 ms at a time, which the figures blamed on the server.
`--profile-server` runs uvicorn as one process under cProfile and prints its hot spots.
uvicorn's own options go through the environment, e.g. `--env UVICORN_WS=wsproto`.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import time

import _common
from _common import say

PHONE_NUMBER_ID = "100200300400600"
APP_SECRET = "bench-app-secret"
TEXT_PREFIX = "bench-rt"


# --- producer (a subprocess) -------------------------------------------------------------------

def produce(schema: str, inbox_id: int, rate: float, count: int, customers: int) -> None:
    """Create `count` inbound messages at `rate` per second, as the worker would for webhooks."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.conversations.inbound import message_receive
    from apps.inboxes.models import Inbox
    from apps.inboxes.providers.base import InboundMessage
    from conversa.events import delivered_together

    with schema_context(schema):
        inbox = Inbox.objects.get(pk=inbox_id)
        late = 0.0
        started = time.time() + 0.2
        for i in range(count):
            due = started + i / rate
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            else:
                late = max(late, -wait)
            sent = time.time()
            # As the worker's drain does (`process_fresh_events`): the events a transaction commits
            # (the conversation's and the message's) reach the subscribers together.
            with delivered_together():
                message_receive(inbox=inbox, inbound=InboundMessage(
                    provider_message_id=f"wamid.bench.rt.{i}", from_phone=f"+55119{i % customers:08d}",
                    profile_name=f"Customer {i % customers}", kind="text",
                    text=f"{TEXT_PREFIX} {i} {sent:.6f}", timestamp=timezone.now(),
                ))
    sys.stdout.write(json.dumps({"late_ms": late * 1000, "seconds": time.time() - started}) + "\n")


def _run_producer(args, company, inbox) -> subprocess.Popen:
    argv = [sys.executable, __file__, "--produce", company.schema_name, str(inbox.pk), str(args.rate),
            str(args.messages), str(args.customers)]
    return subprocess.Popen(argv, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


async def _post_webhooks(args, port: int, host: str, inbox_id: int) -> dict:
    """The webhook way: signed Meta webhooks at `rate` per second, each posted on time."""
    import httpx

    from tests.fakes.webhooks import meta_signature, meta_text_message

    late = 0.0
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Host": host},
                                 timeout=30) as client:

        async def post(i: int) -> None:
            sent = time.time()
            body = meta_text_message(PHONE_NUMBER_ID, f"55119{i % args.customers:08d}",
                                     f"{TEXT_PREFIX} {i} {sent:.6f}", msg_id=f"wamid.bench.rtw.{i}",
                                     name=f"Customer {i % args.customers}")
            response = await client.post(f"/hooks/whatsapp/{inbox_id}", content=body, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, APP_SECRET),
            })
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        tasks = []
        started = time.time() + 0.2
        for i in range(args.messages):
            wait = started + i / args.rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                late = max(late, -wait)
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
    return {"late_ms": late * 1000, "statuses": statuses}


# --- the agents' sockets -------------------------------------------------------------------------

class Agent:
    """One socket; keeps (receipt time, raw frame) of `message.created` frames, parsed afterwards."""

    def __init__(self, url: str, port: int, compression: str | None):
        self.url, self.port, self.compression = url, port, compression
        self.frames: list[tuple[float, str]] = []
        self.other_frames = 0
        self.ready = asyncio.Event()
        self.closing = asyncio.Event()
        self.error: BaseException | None = None

    async def run(self) -> None:
        import websockets

        try:
            async with websockets.connect(self.url, host="127.0.0.1", port=self.port, max_queue=None,
                                          compression=self.compression, open_timeout=30,
                                          ping_interval=None) as ws:
                first = json.loads(await ws.recv())
                if first.get("type") != "ready":
                    raise RuntimeError(f"expected a ready frame, got {first}")
                self.ready.set()
                receive = asyncio.ensure_future(self._receive(ws))
                await self.closing.wait()
                receive.cancel()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # reported by the caller
            self.error = exc
            self.ready.set()

    async def _receive(self, ws) -> None:
        frames, clock = self.frames, time.time
        async for raw in ws:
            now = clock()
            if '"message.created"' in raw:
                frames.append((now, raw))
            else:
                self.other_frames += 1


async def _connect_all(agents: list[Agent], parallel: int) -> list[asyncio.Task]:
    gate = asyncio.Semaphore(parallel)
    tasks = []

    async def start(agent: Agent) -> None:
        async with gate:
            tasks.append(asyncio.create_task(agent.run()))
            await agent.ready.wait()

    await asyncio.gather(*(start(agent) for agent in agents))
    failed = [agent.error for agent in agents if agent.error is not None]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(agents)} sockets failed to connect: {failed[0]!r}")
    return tasks


def _parse(agents: list[Agent]) -> dict:
    from_created, from_sent, spread = [], [], {}
    per_message: dict[int, list[float]] = {}
    created_at: dict[int, float] = {}
    for agent in agents:
        for received, raw in agent.frames:
            data = json.loads(raw)["data"]
            text = data.get("text") or ""
            if not text.startswith(TEXT_PREFIX):
                continue
            _prefix, index, sent = text.split(" ")
            created = dt.datetime.fromisoformat(data["created_at"]).timestamp()
            from_created.append((received - created) * 1000)
            from_sent.append((received - float(sent)) * 1000)
            per_message.setdefault(int(index), []).append(received)
            created_at[int(index)] = created
    first = []
    for index, times in per_message.items():
        spread[index] = (max(times) - min(times)) * 1000
        first.append((min(times) - created_at[index]) * 1000)
    return {"from_created": from_created, "from_sent": from_sent, "spread": list(spread.values()),
            "first": first, "messages_seen": len(per_message)}


async def _run(args, stack, company, inbox, tokens: list[str]) -> dict:
    host = f"{company.slug}.localhost:{stack.port}"
    compression = None if args.no_deflate else "deflate"
    agents = [Agent(f"ws://{host}/ws/v1/?token={token}", stack.port, compression) for token in tokens]
    started = time.perf_counter()
    tasks = await _connect_all(agents, args.connect_parallel)
    say(f"{len(agents)} sockets connected and ready in {time.perf_counter() - started:.1f} s")
    await asyncio.sleep(args.settle)  # the presence frames of 200 sign-ins fade out
    for agent in agents:
        agent.frames.clear()
        agent.other_frames = 0

    cpu_before = {name: stack.cpu(name) for name in ("uvicorn", "huey")}
    cpu_before.update(_common.service_cpu_seconds())
    busy_before, own_before, wall_before = _common.machine_busy_seconds(), time.process_time(), time.time()
    if args.via == "direct":
        producer = _run_producer(args, company, inbox)
        out, err = await asyncio.to_thread(producer.communicate)
        if producer.returncode != 0:
            raise SystemExit(f"producer failed ({producer.returncode}):\n{err[-3000:]}")
        produced = json.loads(out.strip().splitlines()[-1])
    else:
        produced = await _post_webhooks(args, stack.port, host, inbox.pk)
    expected = args.messages * len(agents)
    deadline = time.time() + args.drain
    while time.time() < deadline and sum(len(agent.frames) for agent in agents) < expected:
        await asyncio.sleep(0.1)
    wall = time.time() - wall_before
    cpu_after = {name: stack.cpu(name) for name in ("uvicorn", "huey")}
    cpu_after.update(_common.service_cpu_seconds())
    cpu = {name: cpu_after[name] - before for name, before in cpu_before.items()}
    busy, own = _common.machine_busy_seconds() - busy_before, time.process_time() - own_before
    stack.check_alive()
    for agent in agents:
        agent.closing.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    result = _parse(agents)
    result.update(produced=produced, expected=expected, wall=wall, cpu=cpu, busy=busy, own=own,
                  other_frames=sum(agent.other_frames for agent in agents),
                  frames=sum(len(agent.frames) for agent in agents))
    return result


def _report(args, result: dict) -> None:
    n = args.messages
    say("")
    way = ("message_receive called in a producer subprocess (the worker's code path, events published "
           "there after commit)" if args.via == "direct" else
           f"signed webhooks → Huey ({args.huey_processes} × {args.huey_threads} threads) → message_receive")
    deflate = "no compression" if args.no_deflate else "permessage-deflate"
    say(f"configuration: {args.agents} agent sockets ({deflate})"
        f" on uvicorn --workers {args.server_workers}; {n} messages at {args.rate:g}/s from "
        f"{args.customers} customers, created by {way}")
    produced = result["produced"]
    extra = f", responses {produced['statuses']}" if "statuses" in produced else ""
    say(f"producer: at most {produced['late_ms']:.0f} ms behind its schedule{extra}")
    received = len(result["from_created"])
    say(f"frames: {received} message.created of {result['expected']} expected "
        f"({result['messages_seen']} of {n} messages seen by at least one socket); "
        f"{result['other_frames']} other frames (conversation, contact events) on the sockets")
    if received:
        p99 = _common.percentile(result["from_created"], 99)
        complete = received == result["expected"]
        verdict = "PASS" if p99 < 100 and complete else "FAIL"
        say(f"realtime latency, message created_at → receipt, over {received} (message, socket) pairs: "
            f"{_common.summary(result['from_created'])} (target p99 < 100 ms: {verdict}"
            f"{'' if complete else ', frames missing'})")
        say(f"  from the producer's send time (before message_receive / the webhook POST): "
            f"{_common.summary(result['from_sent'])}")
        say(f"  to the first socket receiving each message (commit, frame building, publishing, relay): "
            f"{_common.summary(result['first'])}")
        say(f"  fan-out spread, first to last of the sockets receiving one message: "
            f"{_common.summary(result['spread'])}")
    wall, cpu = result["wall"], dict(result["cpu"], clients=result["own"])
    if args.via == "direct":
        del cpu["huey"]
    cpu["other"] = result["busy"] - sum(cpu.values())
    labels = {"uvicorn": "uvicorn", "huey": "Huey", "clients": f"the {args.agents} client sockets",
              "postgres": "PostgreSQL", "redis": "Redis",
              "other": "everything else (producer, kernel, other processes)"}
    say(f"CPU over the {wall:.1f} s run, in CPU-s: machine busy {result['busy']:.1f} of "
        f"{(os.cpu_count() or 1) * wall:.1f} available; "
        + ", ".join(f"{labels[key]} {value:.1f}" for key, value in cpu.items()))
    written = result["frames"] + result["other_frames"]
    if written:
        # Independent of what else loads the machine: the server's CPU for each frame it wrote to
        # one socket (every frame, whatever its type), and per message created.
        say(f"uvicorn CPU per 1000 frames written to sockets: {cpu['uvicorn'] / written * 1000:.3f} CPU-s "
            f"({written} frames, {written / max(1, n * args.agents):.2f} per message and socket); "
            f"per message created: {cpu['uvicorn'] / n * 1000:.0f} CPU-ms")


def _agents(company, count: int) -> list:
    """`count` agents, created with user_create; MD5 hashes here only, to spare 200 slow hashes."""
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from apps.accounts.services import user_create

    users = []
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]), \
            schema_context(company.schema_name):
        for i in range(count):
            users.append(user_create(actor=None, email=f"agent{i}@{company.slug}.example.com",
                                     password=_common.PASSWORD,
                                     name=f"Agent {i}"))
    return users


@contextlib.contextmanager
def _collector_paused():
    """No garbage collection in this process while it measures (see the module's docstring)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--produce":
        # The parent's environment (database, channel-layer prefix…) is inherited as it is.
        schema, inbox_id, rate, count, customers = sys.argv[2:7]
        _common.setup_django(migrate=False)
        produce(schema, int(inbox_id), float(rate), int(count), int(customers))
        return

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200, help="agent sockets")
    parser.add_argument("--rate", type=float, default=10, help="messages created per second")
    parser.add_argument("--duration", type=float, default=15, help="seconds of steady creation")
    parser.add_argument("--customers", type=int, default=50, help="distinct customers writing in")
    parser.add_argument("--via", choices=("direct", "webhook"), default="direct",
                        help="how messages are created (see the module's docstring)")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn --workers")
    parser.add_argument("--huey-processes", type=int, default=1, help="Huey consumers (--via webhook)")
    parser.add_argument("--huey-threads", type=int, default=4, help="threads per consumer (--via webhook)")
    parser.add_argument("--no-deflate", action="store_true",
                        help="sockets without permessage-deflate (browsers do offer it)")
    parser.add_argument("--connect-parallel", type=int, default=20, help="sockets opening at once")
    parser.add_argument("--settle", type=float, default=3, help="seconds between connecting and creating")
    parser.add_argument("--drain", type=float, default=10,
                        help="seconds to wait for the last frames after the last message")
    parser.add_argument("--profile-server", action="store_true",
                        help="run uvicorn as one process under cProfile and print where it spent its time")
    parser.add_argument("--top", type=int, default=30, help="entries a profile prints")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's and workers' logs")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for this process, the server and the workers (repeatable)")
    _common.add_db_arguments(parser, default_db="conversa_bench_realtime")
    args = parser.parse_args()
    if args.profile_server:
        args.server_workers = 1  # one process, under cProfile
    args.messages = max(1, round(args.rate * args.duration))

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment(**dict(item.split("=", 1) for item in args.env))
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack, failed = None, True
    try:
        company = _common.bench_company("rt")
        inbox = _common.meta_inbox(company, phone_number_id=PHONE_NUMBER_ID, app_secret=APP_SECRET)
        started = time.perf_counter()
        tokens = [_common.access_token(company, user) for user in _agents(company, args.agents)]
        say(f"company {company.slug}: {args.agents} agents and their tokens in "
            f"{time.perf_counter() - started:.1f} s")
        _common.check_machine_idle()
        stack = _common.LiveStack()
        profile_to = stack.log_dir / "uvicorn.prof" if args.profile_server else None
        stack.start_server(workers=1 if profile_to else args.server_workers, profile_to=profile_to)
        if args.via == "webhook":
            for index in range(args.huey_processes):
                stack.start_worker(threads=args.huey_threads, index=index)
        with _collector_paused():
            result = asyncio.run(_run(args, stack, company, inbox, tokens))
        _report(args, result)
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
