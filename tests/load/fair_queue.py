"""Benchmark: the fair task queue (per-company lanes) against Huey's single Redis list.

    .venv/bin/python tests/load/fair_queue.py [--burst 10000] [--companies 1000] [--ops 20000]

No database, no worker: the two storages on the local Redis (`REDIS_URL`, default
redis://127.0.0.1:6379/0) under a throwaway queue name, deleted afterwards.

1. Starvation: company A queues `--burst` tasks, then company B one task; prints how many tasks a
   worker takes before B's (the single list: all of A's; the lanes: one).
2. Cost: `--ops` enqueues then `--ops` dequeues spread over `--companies` companies; prints µs per
   enqueue and per dequeue (one Redis round trip each in both), and Redis CPU-seconds used per
   10,000 operations (INFO cpu before and after), a measure that does not depend on other load.
"""

import argparse
import os
import time
import uuid

import _common  # noqa: F401 (puts the project on sys.path)
from _common import say
from huey.storage import RedisStorage

from conversa.fairqueue import FairRedisStorage, _lane


def redis_cpu(conn) -> float:
    info = conn.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


def enqueue(storage, lane: str, data: bytes) -> None:
    token = _lane.set(lane)
    try:
        storage.enqueue(data)
    finally:
        _lane.reset(token)


def starvation(storage, burst: int) -> int:
    for n in range(burst):
        enqueue(storage, "company_a", b"a%d" % n)
    enqueue(storage, "company_b", b"b")
    taken = 0
    while (data := storage.dequeue()) is not None:
        taken += 1
        if data == b"b":
            return taken - 1
    raise AssertionError("company B's task was lost")


def cost(storage, ops: int, companies: int) -> tuple[float, float, float]:
    conn = storage.conn
    cpu = redis_cpu(conn)
    started = time.perf_counter()
    for n in range(ops):
        enqueue(storage, f"company_{n % companies}", b"x" * 600)  # a task message is ~0.5 KB
    enqueued = time.perf_counter()
    while storage.dequeue() is not None:
        pass
    dequeued = time.perf_counter()
    used = redis_cpu(conn) - cpu
    return ((enqueued - started) / ops * 1e6, (dequeued - enqueued) / ops * 1e6, used / (2 * ops) * 10_000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--ops", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    say(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    for label, cls in (("single list (huey.RedisStorage)", RedisStorage),
                       ("company lanes (FairRedisStorage)", FairRedisStorage)):
        storage = cls(f"bench_fair_{uuid.uuid4().hex[:8]}", url=url, blocking=False)
        try:
            before_b = starvation(storage, args.burst)
            storage.flush_queue()
            per_enqueue, per_dequeue, cpu = cost(storage, args.ops, args.companies)
        finally:
            storage.flush_queue()
        say(f"{label}: B's task taken after {before_b} of A's {args.burst}; "
              f"enqueue {per_enqueue:.0f} µs, dequeue {per_dequeue:.0f} µs "
              f"({args.companies} companies); Redis CPU {cpu:.2f} s per 10,000 operations")


if __name__ == "__main__":
    main()
