"""Benchmark: a team-chat room message → every member's socket, on 200 sockets of 2 companies.

    .venv/bin/python tests/load/team_chat.py [--companies 2] [--agents 100] [--room-size 10]
        [--rate 10] [--duration 15] [--server-workers 2] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_teamchat`: `--companies` companies (plan enterprise) with
`--agents` users each (MD5 hashes in this process only; tokens minted in-process), split into group
rooms of `--room-size` members, every user in exactly one room; uvicorn (`conversa.asgi`,
`--workers N`) as a subprocess. Every user opens `/ws/v1/?token=…` and waits for `ready`. Then a
producer subprocess posts room messages at a steady `--rate` for `--duration` seconds through
`apps.teamchat.services.message_send` (what the API calls), each from a random member of a random
room of a random company, its text carrying the room and its index.

Reported: latency from the message's `created_at` to receipt on every member's socket (the author's
included), p50/p95/p99 (target p99 < 100 ms); how many (message, member) pairs arrived of those
expected; and frames that reached a socket outside the message's room or company, which must be 0.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time

import _common
from _common import say

TEXT_PREFIX = "bench-tc"


# --- producer (a subprocess) -------------------------------------------------------------------

def produce(plan_path: str, rate: float, count: int) -> None:
    """Post `count` messages at `rate` per second, each from a member of a room, as the API would."""
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.teamchat.models import Room
    from apps.teamchat.services import message_send

    with open(plan_path) as handle:
        plan = json.load(handle)  # [[schema, room_id, [user ids]], …]
    chooser = random.Random(7)
    cache, spent = {}, []
    late, started = 0.0, time.time() + 0.2
    for i in range(count):
        schema, room_id, members = plan[chooser.randrange(len(plan))]
        author_id = members[chooser.randrange(len(members))]
        due = started + i / rate
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        else:
            late = max(late, -wait)
        with schema_context(schema):
            if (schema, author_id) not in cache:
                cache[(schema, author_id)] = (User.objects.get(pk=author_id), Room.objects.get(pk=room_id))
            author, room = cache[(schema, author_id)]
            # The call commits, then the realtime subscriber builds the frame and publishes it.
            begun = time.perf_counter()
            message_send(actor=author, room=room, text=f"{TEXT_PREFIX} {schema} {room_id} {i}")
            spent.append((time.perf_counter() - begun) * 1000)
    sys.stdout.write(json.dumps({"late_ms": late * 1000, "seconds": time.time() - started,
                                 "send_ms": spent}) + "\n")


# --- the users' sockets ------------------------------------------------------------------------

class Member:
    """One socket of one user; keeps (receipt time, raw frame) of team-chat message frames."""

    def __init__(self, url: str, port: int, schema: str, room_id: int):
        self.url, self.port, self.schema, self.room_id = url, port, schema, room_id
        self.frames: list[tuple[float, str]] = []
        self.ready = asyncio.Event()
        self.closing = asyncio.Event()
        self.error: BaseException | None = None

    async def run(self) -> None:
        import websockets

        try:
            async with websockets.connect(self.url, host="127.0.0.1", port=self.port, max_queue=None,
                                          compression="deflate", open_timeout=30, ping_interval=None) as ws:
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
            if '"team_chat.' in raw:
                frames.append((clock(), raw))


async def _connect_all(members: list[Member], parallel: int) -> list[asyncio.Task]:
    gate = asyncio.Semaphore(parallel)
    tasks = []

    async def start(member: Member) -> None:
        async with gate:
            tasks.append(asyncio.create_task(member.run()))
            await member.ready.wait()

    await asyncio.gather(*(start(member) for member in members))
    failed = [member.error for member in members if member.error is not None]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(members)} sockets failed to connect: {failed[0]!r}")
    return tasks


def _parse(members: list[Member], room_sizes: dict) -> dict:
    latencies, strays, seen, first = [], 0, {}, {}
    for member in members:
        for received, raw in member.frames:
            frame = json.loads(raw)
            if frame["type"] != "team_chat.message.created":
                continue
            data = frame["data"]
            _prefix, schema, room_id, index = data["text"].split(" ")
            if schema != member.schema or int(room_id) != member.room_id or data["room_id"] != member.room_id:
                strays += 1  # a frame outside its room or company: must never happen
                continue
            created = dt.datetime.fromisoformat(data["created_at"]).timestamp()
            latencies.append((received - created) * 1000)
            key = (schema, int(room_id), int(index))
            first[key] = min(first.get(key, received), received)
            first[key + ("created",)] = created
            seen.setdefault((schema, int(room_id), int(index)), 0)
            seen[(schema, int(room_id), int(index))] += 1
    expected = sum(room_sizes[(schema, room_id)] for schema, room_id, _ in seen)
    to_first = [(first[key] - first[key + ("created",)]) * 1000 for key in seen]
    return {"latencies": latencies, "to_first": to_first, "strays": strays, "messages_seen": len(seen),
            "pairs": len(latencies), "pairs_expected_of_seen": expected}


async def _run(args, stack, sockets: list[tuple], plan_path: str, room_sizes: dict) -> dict:
    members = [Member(f"ws://{host}:{stack.port}/ws/v1/?token={token}", stack.port, schema, room_id)
               for host, token, schema, room_id in sockets]
    started = time.perf_counter()
    tasks = await _connect_all(members, args.connect_parallel)
    say(f"{len(members)} sockets connected and ready in {time.perf_counter() - started:.1f} s")
    await asyncio.sleep(args.settle)  # the presence frames of 200 sign-ins fade out
    for member in members:
        member.frames.clear()
    busy_before, own_before, wall_before = _common.machine_busy_seconds(), time.process_time(), time.time()
    cpu_before = stack.cpu("uvicorn")
    argv = [sys.executable, __file__, "--produce", plan_path, str(args.rate), str(args.messages)]
    producer = subprocess.Popen(argv, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
    out, err = await asyncio.to_thread(producer.communicate)
    if producer.returncode != 0:
        raise SystemExit(f"producer failed ({producer.returncode}):\n{err[-3000:]}")
    produced = json.loads(out.strip().splitlines()[-1])
    await asyncio.sleep(args.drain)
    wall = time.time() - wall_before
    stack.check_alive()
    for member in members:
        member.closing.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    result = _parse(members, room_sizes)
    result.update(produced=produced, wall=wall, uvicorn_cpu=stack.cpu("uvicorn") - cpu_before,
                  busy=_common.machine_busy_seconds() - busy_before, own=time.process_time() - own_before)
    return result


def _report(args, result: dict, sockets: int) -> None:
    say("")
    say(f"configuration: {args.companies} companies × {args.agents} users = {sockets} sockets "
        f"(permessage-deflate) on uvicorn --workers {args.server_workers}; rooms of {args.room_size}; "
        f"{args.messages} messages at {args.rate:g}/s through message_send in a producer subprocess")
    say(f"producer: at most {result['produced']['late_ms']:.0f} ms behind its schedule")
    say(f"messages seen by their rooms: {result['messages_seen']} of {args.messages}; (message, member) "
        f"frames {result['pairs']} of {result['pairs_expected_of_seen']} expected")
    say(f"frames outside their room or company: {result['strays']} (must be 0)")
    complete = (result["messages_seen"] == args.messages
                and result["pairs"] == result["pairs_expected_of_seen"])
    if result["latencies"]:
        p99 = _common.percentile(result["latencies"], 99)
        verdict = "PASS" if p99 < 100 and complete and not result["strays"] else "FAIL"
        say(f"room message created_at → every member's socket: {_common.summary(result['latencies'])} "
            f"(target p99 < 100 ms: {verdict})")
        say(f"  to the first member's socket: {_common.summary(result['to_first'])}; message_send "
            f"(insert, commit, frame built and published) in the producer: "
            f"{_common.summary(result['produced']['send_ms'])}")
    say(f"CPU over the {result['wall']:.1f} s run: machine busy {result['busy']:.1f} CPU-s of "
        f"{(os.cpu_count() or 1) * result['wall']:.1f}; uvicorn {result['uvicorn_cpu']:.1f}, "
        f"the client sockets {result['own']:.1f}")


def _setup(args) -> tuple[list[tuple], list, dict]:
    """Companies, users, rooms; returns sockets (host, token, schema, room id), the producer's plan
    and each room's size."""
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from apps.accounts.services import user_create
    from apps.teamchat.services import room_create

    sockets, plan, sizes = [], [], {}
    for c in range(args.companies):
        company = _common.bench_company(f"tc{c}")
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]), \
                schema_context(company.schema_name):
            users = [user_create(actor=None, email=f"user{i}@{company.slug}.example.com",
                                 password=_common.PASSWORD, name=f"User {i}") for i in range(args.agents)]
            for start in range(0, len(users), args.room_size):
                group = users[start:start + args.room_size]
                room = room_create(actor=group[0], name=f"Room {start // args.room_size}",
                                   member_ids=[user.pk for user in group[1:]])
                plan.append([company.schema_name, room.pk, [user.pk for user in group]])
                sizes[(company.schema_name, room.pk)] = len(group)
                for user in group:
                    sockets.append((f"{company.slug}.localhost", _common.access_token(company, user),
                                    company.schema_name, room.pk))
    return sockets, plan, sizes


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--produce":
        plan_path, rate, count = sys.argv[2:5]
        _common.setup_django(migrate=False)
        produce(plan_path, float(rate), int(count))
        return

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=2)
    parser.add_argument("--agents", type=int, default=100, help="users (sockets) per company")
    parser.add_argument("--room-size", type=int, default=10, help="members per room")
    parser.add_argument("--rate", type=float, default=10, help="room messages per second (all rooms)")
    parser.add_argument("--duration", type=float, default=15, help="seconds of steady posting")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn --workers")
    parser.add_argument("--connect-parallel", type=int, default=20, help="sockets opening at once")
    parser.add_argument("--settle", type=float, default=3, help="seconds between connecting and posting")
    parser.add_argument("--drain", type=float, default=5, help="seconds to wait for the last frames")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's logs")
    _common.add_db_arguments(parser, default_db="conversa_bench_teamchat")
    args = parser.parse_args()
    args.messages = max(1, round(args.rate * args.duration))

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack, failed = None, True
    try:
        started = time.perf_counter()
        sockets, plan, sizes = _setup(args)
        say(f"{args.companies} companies, {len(sockets)} users in {len(plan)} rooms, tokens minted in "
            f"{time.perf_counter() - started:.1f} s")
        plan_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"team-chat-plan-{tag}.json")
        with open(plan_path, "w") as handle:
            json.dump(plan, handle)
        _common.check_machine_idle()
        stack = _common.LiveStack()
        stack.start_server(workers=args.server_workers)
        result = asyncio.run(_run(args, stack, sockets, plan_path, sizes))
        _report(args, result, len(sockets))
        os.unlink(plan_path)
        failed = False
    finally:
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
