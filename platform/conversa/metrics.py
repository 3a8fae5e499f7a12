"""Operational metrics (counters, histograms, per-process gauges) shared by every process, in Redis.

Why Redis rather than prometheus_client's multiprocess mode: that mode aggregates the processes of
ONE machine through files in a shared directory; Conversa runs web processes and Huey workers on
several machines behind one `/metrics`, and already has one Redis they all reach. So each process
adds up what it records in memory (a dict under a lock: no I/O on the request path) and a timer
thread flushes the sums with one Redis pipeline about once a second (HINCRBY/HINCRBYFLOAT are
atomic, so any number of processes add up correctly). The scrape flushes its own process, reads
the hashes and renders them with prometheus_client's exposition code. If Redis is down the
buffered figures are dropped, never the request. Measured overhead: see tests/load/metrics.py.

Gauges that belong to a process (its open websockets) are written as "this process holds N" with
a heartbeat, so a crashed process stops counting within `GAUGE_STALE_SECONDS`. Gauges read from
the database or the queue (companies, Huey's pending tasks) are computed by the scrape itself
(conversa.metrics_view).

Labels are closed sets (route patterns, status classes, task names, providers, outcomes): never
raw paths, ids, phone numbers or emails, so the series count stays bounded.
"""

import atexit
import bisect
import json
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from conversa.redis import get_redis, redis_key

logger = logging.getLogger("conversa.metrics")

FLUSH_SECONDS = 1.0
# A process gauge not refreshed for this long belongs to a process that is gone.
GAUGE_STALE_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str  # "counter", "histogram" or "gauge" (per process, summed)
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


SPECS: dict[str, Spec] = {}


def _declare(spec: Spec) -> str:
    SPECS[spec.name] = spec
    return spec.name


HTTP_REQUESTS = _declare(Spec(
    "conversa_http_requests", "counter", "HTTP requests answered, by route pattern and status class.",
    ("method", "route", "status"),
))
HTTP_DURATION = _declare(Spec(
    "conversa_http_request_duration_seconds", "histogram", "Time to answer an HTTP request.",
    ("method", "route"), LATENCY_BUCKETS,
))
WEBHOOKS_RECEIVED = _declare(Spec(
    "conversa_webhooks_received", "counter", "Provider webhooks taken in, by provider, door and outcome.",
    ("provider", "door", "outcome"),
))
WEBHOOK_DRAIN_LAG = _declare(Spec(
    "conversa_webhook_drain_lag_seconds", "histogram",
    "From a webhook stored to its messages applied by the drain.", (), LAG_BUCKETS,
))
TASK_DURATION = _declare(Spec(
    "conversa_huey_task_duration_seconds", "histogram", "Huey task run time, by task and outcome.",
    ("task", "outcome"), TASK_BUCKETS,
))
CLAMD_SCAN = _declare(Spec(
    "conversa_clamd_scan_duration_seconds", "histogram", "clamd scan time, by result.",
    ("result",), LATENCY_BUCKETS,
))
CAMPAIGN_SENDS = _declare(Spec(
    "conversa_campaign_sends", "counter", "Campaign messages handed to providers, by outcome.",
    ("status",),
))
WEBSOCKETS_OPEN = _declare(Spec(
    "conversa_websocket_connections", "gauge", "Websocket connections open now.",
))


def _labels(spec: Spec, labels: dict) -> tuple[str, ...]:
    return tuple(str(labels.get(name, "")) for name in spec.labels)


def _field(values: tuple[str, ...]) -> str:
    """Label values as a Redis hash field (JSON: any character may appear in a value)."""
    return json.dumps(values, separators=(",", ":"))


class Recorder:
    """This process's sums since its last flush (thread-safe), flushed to Redis by a timer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counters: dict[tuple[str, tuple], float] = defaultdict(float)
        self.histograms: dict[tuple[str, tuple], list[float]] = {}
        self.gauges: dict[str, float] = defaultdict(float)
        self.timer: threading.Timer | None = None
        self.process = f"{socket.gethostname()}:{os.getpid()}"

    def _arm(self, delay: float = FLUSH_SECONDS) -> None:
        # Caller holds the lock. One timer at a time; none while there is nothing to send.
        if self.timer is None:
            self.timer = threading.Timer(delay, self._tick)
            self.timer.daemon = True
            self.timer.start()

    def _tick(self) -> None:
        with self.lock:
            self.timer = None
        self.flush()
        with self.lock:
            if any(self.gauges.values()):
                self._arm(HEARTBEAT_SECONDS)  # keep the process's gauges from going stale

    def inc(self, name: str, amount: float = 1, **labels) -> None:
        key = (name, _labels(SPECS[name], labels))
        with self.lock:
            self.counters[key] += amount
            self._arm()

    def observe(self, name: str, value: float, **labels) -> None:
        spec = SPECS[name]
        key = (name, _labels(spec, labels))
        with self.lock:
            cells = self.histograms.get(key)
            if cells is None:
                # One cell per bucket (not cumulative), then +Inf, sum and count.
                cells = self.histograms[key] = [0.0] * (len(spec.buckets) + 3)
            index = bisect.bisect_left(spec.buckets, value)
            cells[index] += 1
            cells[-2] += value
            cells[-1] += 1
            self._arm()

    def gauge_add(self, name: str, delta: float) -> None:
        with self.lock:
            self.gauges[name] += delta
            self._arm()

    def take(self):
        with self.lock:
            taken = (self.counters, self.histograms, dict(self.gauges))
            self.counters, self.histograms = defaultdict(float), {}
        return taken

    def flush(self) -> None:
        """Send the sums with one pipeline; on a Redis failure they are dropped (logged)."""
        counters, histograms, gauges = self.take()
        if not (counters or histograms or gauges):
            return
        try:
            pipe = get_redis().pipeline(transaction=False)
            for (name, values), amount in counters.items():
                pipe.hincrbyfloat(redis_key("metrics", name), _field(values), amount)
            for (name, values), cells in histograms.items():
                key, labels = redis_key("metrics", name), _field(values)
                for index, count in enumerate(cells[:-2]):
                    if count:
                        pipe.hincrby(key, f"{labels}|{index}", int(count))
                pipe.hincrbyfloat(key, f"{labels}|sum", cells[-2])
                pipe.hincrby(key, f"{labels}|count", int(cells[-1]))
            now = time.time()
            for name, value in gauges.items():
                pipe.hset(redis_key("metrics", name), self.process, json.dumps([value, now]))
            pipe.execute()
        except Exception:
            logger.warning("metrics not flushed (Redis unreachable?)", exc_info=True)


RECORDER = Recorder()
atexit.register(RECORDER.flush)


def inc(name: str, amount: float = 1, **labels) -> None:
    """Add to a counter (labels: the spec's, closed sets only)."""
    RECORDER.inc(name, amount, **labels)


def observe(name: str, value: float, **labels) -> None:
    """Record one value (seconds) in a histogram."""
    RECORDER.observe(name, value, **labels)


def gauge_add(name: str, delta: float) -> None:
    """Change this process's share of a gauge (websocket opened: +1, closed: -1)."""
    RECORDER.gauge_add(name, delta)


class timed:
    """`with timed(CLAMD_SCAN, result="clean") as t: …`; labels may be set on `t.labels` inside."""

    def __init__(self, name: str, **labels):
        self.name, self.labels = name, labels

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        observe(self.name, time.perf_counter() - self.started, **self.labels)
        return False


# --- reading (the scrape) -------------------------------------------------------------------------

def stored() -> dict[str, dict[bytes, bytes]]:
    """Every declared metric's hash as Redis holds it, after flushing this process."""
    RECORDER.flush()
    pipe = get_redis().pipeline(transaction=False)
    for name in SPECS:
        pipe.hgetall(redis_key("metrics", name))
    return dict(zip(SPECS, pipe.execute(), strict=True))


def families(raw: dict[str, dict[bytes, bytes]], now: float | None = None):
    """prometheus_client metric families from `stored()`; stale process gauges are left out."""
    now = time.time() if now is None else now
    for name, spec in SPECS.items():
        fields = {key.decode(): value.decode() for key, value in raw.get(name, {}).items()}
        if spec.kind == "counter":
            family = CounterMetricFamily(name, spec.help, labels=spec.labels)
            for labels, value in sorted(fields.items()):
                family.add_metric(json.loads(labels), float(value))
        elif spec.kind == "gauge":
            family = GaugeMetricFamily(name, spec.help)
            fresh = [json.loads(value) for value in fields.values()]
            family.add_metric([], sum(v for v, seen in fresh if now - seen < GAUGE_STALE_SECONDS))
        else:
            family = HistogramMetricFamily(name, spec.help, labels=spec.labels)
            series: dict[str, dict[str, float]] = defaultdict(dict)
            for field, value in fields.items():
                labels, _, part = field.rpartition("|")
                series[labels][part] = float(value)
            for labels, cells in sorted(series.items()):
                running, buckets = 0.0, []
                for index, bound in enumerate((*spec.buckets, float("inf"))):
                    running += cells.get(str(index), 0.0)
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
                family.add_metric(json.loads(labels), buckets, cells.get("sum", 0.0))
        yield family


def forget_stale_gauges(raw: dict[str, dict[bytes, bytes]], now: float | None = None) -> None:
    """Drop the gauge entries of processes that stopped reporting (the scrape tidies up)."""
    now = time.time() if now is None else now
    client = get_redis()
    for name, spec in SPECS.items():
        if spec.kind != "gauge":
            continue
        stale = [key for key, value in raw.get(name, {}).items()
                 if now - json.loads(value)[1] >= GAUGE_STALE_SECONDS]
        if stale:
            client.hdel(redis_key("metrics", name), *stale)
