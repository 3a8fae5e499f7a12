"""Shared plumbing of the load benchmarks: a throwaway database, Django set-up, output, statistics.

The benchmarks never touch the developer's database: they create their own (`conversa_bench…`),
point DATABASE_URL at it before Django is set up, and drop it at the end unless `--keep`.
Run them from anywhere with the project's interpreter, e.g. `.venv/bin/python tests/load/provision.py`.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")

PASSWORD = "bench-password-123"
DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*bench[a-z0-9_]*$")


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def add_db_arguments(parser: argparse.ArgumentParser, default_db: str) -> None:
    parser.add_argument(
        "--server", default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database name (env BENCH_PG_SERVER)",
    )
    parser.add_argument("--db", default=default_db,
                        help=f"benchmark database; its name must contain 'bench' (default {default_db})")
    parser.add_argument("--keep", action="store_true",
                        help="reuse the database if it exists and do not drop it at the end")


def _admin_connection(server: str):
    import psycopg

    return psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True)


def _check_db_name(db: str) -> None:
    if not DB_NAME_RE.match(db):
        raise SystemExit(f"refusing to use database {db!r}: its name must contain 'bench'")


def prepare_database(server: str, db: str, *, keep: bool) -> bool:
    """Create the benchmark database (dropping an old one unless `keep`); True if it was new."""
    _check_db_name(db)
    with _admin_connection(server) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if exists and keep:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    return True


def drop_database(server: str, db: str) -> None:
    _check_db_name(db)
    from django.db import connections

    connections.close_all()
    with _admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def configure_environment(server: str, db: str) -> None:
    """Environment of this process and of the `manage.py` subprocesses it starts.

    Set before Django reads its settings; the repo's `.env` is read with overwrite=False, so these
    values win over it.
    """
    os.environ["DATABASE_URL"] = f"{server.rstrip('/')}/{db}"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-real-deployment-0123456789")
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["HUEY_IMMEDIATE"] = "true"
    os.environ["SENTRY_DSN"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Keep our Redis keys and channel groups apart from a development server's.
    os.environ["REDIS_KEY_PREFIX"] = "conversa-bench"
    os.environ["CHANNEL_LAYER_PREFIX"] = "conversa-bench"
    os.environ["HUEY_NAME"] = "conversa-bench"
    # Benchmarks drive one user or key far past SPEC §13's per-minute budgets on purpose.
    for budget in ("GENERAL", "SENDS", "UPLOADS", "EXPORTS"):
        os.environ.setdefault(f"RATE_LIMIT_{budget}_PER_MINUTE", "100000000")


def setup_django(*, migrate: bool) -> float:
    """django.setup(), then (if asked) migrate_schemas; returns the migration's seconds."""
    import django

    django.setup()
    if not migrate:
        return 0.0
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate_schemas", verbosity=0, interactive=False, stdout=StringIO())
    return time.perf_counter() - started


def template_context() -> str:
    """What a clone copies: the template's tables, indexes and applied migrations."""
    from django.conf import settings
    from django.db import connection

    template = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [template]
        )
        tables = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = %s", [template])
        indexes = cursor.fetchone()[0]
        cursor.execute(f'SELECT count(*) FROM "{template}".django_migrations')
        migrations = cursor.fetchone()[0]
    return (f"template schema {template!r}: {tables} tables, {indexes} indexes, "
            f"{migrations} tenant migrations recorded")


def run_manage(*args: str, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Run `manage.py args…` with this process's (benchmark) environment, plus `env`; returns
    (seconds, result)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return elapsed, result


def run_tag() -> str:
    """A short, slug-safe tag, so repeated runs on a kept database never reuse a slug."""
    digits, n = "0123456789abcdefghijklmnopqrstuvwxyz", int(time.time() * 10)
    tag = ""
    while n:
        n, rest = divmod(n, 36)
        tag = digits[rest] + tag
    return tag[-6:]


def create_companies(wanted: int, *, prefix: str) -> None:
    """Bring the number of companies up to `wanted` with company_create (untimed, with progress)."""
    from tenants.models import Company
    from tenants.services import company_create

    existing = Company.objects.exclude(schema_name="public").count()
    missing = max(0, wanted - existing)
    if not missing:
        if wanted:
            say(f"{existing} companies already there")
        return
    tag = run_tag()
    say(f"creating {missing} companies ({existing} already there)…")
    started = batch_started = time.perf_counter()
    batch = 0
    for i in range(missing):
        slug = f"{prefix}{tag}-{i}"
        company_create(name=f"Bench {slug}", slug=slug, plan_code="pro",
                       admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)
        done, batch = i + 1, batch + 1
        if done % 50 == 0 or done == missing:
            now = time.perf_counter()
            say(f"  {done}/{missing} created in {now - started:.1f} s "
                f"(these last {batch}: {(now - batch_started) / batch * 1000:.0f} ms each)")
            batch_started, batch = now, 0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0–100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- live benchmarks: a real ASGI server and Huey consumers ------------------------------------

def live_environment(**overrides: str) -> str:
    """The environment of a live benchmark (this process and the servers and workers it starts).

    Like `configure_environment` (call that first), with names unique to this run for the Huey queue,
    channel layer and Redis keys, so a concurrent run or a development server never shares them;
    tasks go through Redis to the worker. Returns the run's tag.
    """
    tag = f"conversa-bench-{os.getpid()}-{run_tag()}"
    os.environ.update({
        "REDIS_KEY_PREFIX": tag,
        "CHANNEL_LAYER_PREFIX": tag,
        "HUEY_NAME": tag,
        "HUEY_IMMEDIATE": "false",
        "OUTBOUND_ALLOW_PRIVATE": "true",
        # Benchmarks sign in many times from 127.0.0.1.
        "LOGIN_ATTEMPTS_PER_IP_PER_MINUTE": "1000000",
        # No schema cloned ahead of time by the worker in the middle of a measurement.
        "TENANT_SCHEMA_POOL_SIZE": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
    })
    os.environ.update(overrides)
    return tag


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (whoever used them: Postgres, Redis…)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# uvicorn re-raises SIGTERM after its graceful shutdown, which would kill `python -m cProfile`
# before it writes anything: this launcher's own handler (which uvicorn restores) writes the stats.
_PROFILED_UVICORN = """
import cProfile, signal, sys
out, sys.argv = sys.argv[1], ["uvicorn", *sys.argv[2:]]
profiler = cProfile.Profile()
def stop(signum, frame):
    profiler.disable()
    profiler.dump_stats(out)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
from uvicorn.main import main
profiler.enable()
main()
"""


class LiveStack:
    """uvicorn and Huey consumers as subprocesses, each in its own process group.

    Every group is terminated when the stack closes: on normal exit, on an exception, on Ctrl-C and
    on SIGTERM (which `install_signal_handlers` turns into KeyboardInterrupt).
    """

    def __init__(self) -> None:
        import atexit
        import tempfile

        self.log_dir = Path(tempfile.mkdtemp(prefix="conversa-bench-logs-"))
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.port = 0
        atexit.register(self.stop)

    def _spawn(self, label: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{label}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((label, process))
        return process

    def start_server(self, *, workers: int = 1, env: dict | None = None,
                     profile_to: Path | None = None, label: str = "uvicorn") -> int:
        """uvicorn on a free port (returned; the first one is also `self.port`); with `profile_to`,
        one process under cProfile (stats written at exit)."""
        import httpx

        port = free_port()
        self.port = self.port or port
        launcher = ["-c", _PROFILED_UVICORN, str(profile_to)] if profile_to else ["-m", "uvicorn"]
        process = self._spawn(label, [
            sys.executable, *launcher, "conversa.asgi:application", "--app-dir", "platform",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-access-log",
            "--log-level", "warning", "--workers", str(workers),
        ], env)
        deadline = time.monotonic() + 60
        healthy = 0
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"uvicorn exited:\n{self.log_tail(label)}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    healthy += 1
                    if healthy >= 3 * workers:  # give every worker process a moment to come up
                        return port
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"uvicorn did not become healthy in 60 s:\n{self.log_tail(label)}")

    def start_worker(self, *, threads: int, index: int = 0, env: dict | None = None) -> subprocess.Popen:
        argv = [sys.executable, str(ROOT / "manage.py"), "run_huey", "--workers", str(threads),
                "--worker-type", "thread", "--delay", "0.01", "--max-delay", "0.1"]
        if index:
            argv.append("--no-periodic")  # one scheduler is enough
        label = f"huey-{index}"
        process = self._spawn(label, argv, env)
        # Started, not starting: a task queued while Django still loads would count its start-up.
        deadline = time.monotonic() + 60
        while "Huey consumer started" not in self.log_tail(label, chars=100_000):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{label} did not start:\n{self.log_tail(label)}")
            time.sleep(0.05)
        return process

    def pids(self, prefix: str) -> list[int]:
        return [process.pid for label, process in self.processes if label.startswith(prefix)]

    def cpu(self, prefix: str) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids(prefix))

    def check_alive(self) -> None:
        for label, process in self.processes:
            if process.poll() is not None:
                raise SystemExit(f"{label} exited ({process.returncode}):\n{self.log_tail(label)}")

    def log_tail(self, label: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{label}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, prefix: str = "") -> None:
        import signal

        chosen = [(label, p) for label, p in self.processes if label.startswith(prefix)]
        for _label, process in chosen:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _label, process in chosen:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        self.processes = [(label, p) for label, p in self.processes if (label, p) not in chosen]

    def close(self, *, keep_logs: bool = False) -> None:
        import shutil

        self.stop()
        if keep_logs:
            say(f"server and worker logs kept in {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)


def install_signal_handlers() -> None:
    """SIGTERM (and SIGHUP) behave like Ctrl-C, so `finally` blocks stop the subprocesses."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def bench_company(prefix: str, *, plan_code: str = "enterprise"):
    """A new company (admin@{slug}.example.com / PASSWORD) for a live benchmark; returns it."""
    from tenants.services import company_create

    slug = f"{prefix}{run_tag()}"
    company, _admin = company_create(name=f"Bench {slug}", slug=slug, plan_code=plan_code,
                                     admin_email=f"admin@{slug}.example.com", admin_password=PASSWORD)
    return company


def meta_inbox(company, *, phone_number_id: str, app_secret: str):
    """A WhatsApp Cloud inbox of `company` (its Graph URL is never called: inbound only)."""
    from django_tenants.utils import schema_context

    from apps.inboxes.services import inbox_create

    with schema_context(company.schema_name):
        return inbox_create(actor=None, name="Bench WhatsApp", provider="whatsapp_cloud", credentials={
            "phone_number_id": phone_number_id, "business_account_id": "bench-waba",
            "access_token": "bench-access-token", "app_secret": app_secret,
            "graph_base_url": "http://127.0.0.1:9",
        })


def access_token(company, user) -> str:
    """An access token for `user`, minted in-process as the login endpoint would."""
    from django_tenants.utils import schema_context

    from apps.accounts.tokens import TenantRefreshToken

    with schema_context(company.schema_name):
        return str(TenantRefreshToken.for_user(user).access_token)


def flush_redis(tag: str) -> None:
    """Remove this run's Redis keys (Huey queue, channel layer, counters), all named after `tag`.

    Called on the way out, also after a failure: with Redis down it says so rather than hiding
    the run's own error (and nothing of ours is left to clean then either).
    """
    from conversa.redis import get_redis

    # Huey keeps only the letters and digits of its name in its keys.
    patterns = {f"*{tag}*", f"*{re.sub(r'[^a-z0-9]', '', tag.lower())}*"}
    try:
        redis = get_redis()
        keys = list({key for pattern in patterns for key in redis.scan_iter(match=pattern, count=1000)})
        for start in range(0, len(keys), 500):
            redis.delete(*keys[start:start + 500])
    except Exception as exc:
        say(f"could not clean Redis keys of {tag}: {exc}")


def summary(values: list[float]) -> str:
    """`p50 … p95 … p99 … max …` of millisecond values."""
    if not values:
        return "no samples"
    return (f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
            f"p99 {percentile(values, 99):.1f} ms, max {max(values):.1f} ms")


def check_machine_idle(seconds: float = 2.0, limit: float = 0.15) -> None:
    """Warn when something else keeps the CPUs busy: live figures would then say little."""
    cores = os.cpu_count() or 1
    before = machine_busy_seconds()
    time.sleep(seconds)
    busy = (machine_busy_seconds() - before) / seconds / cores
    if busy > limit:
        say(f"!! the machine is already {busy:.0%} busy before the run (other processes): "
            "the figures below are not representative")


def database_counters(server: str, db: str) -> dict[str, int]:
    """PostgreSQL's own counters for the database: sessions opened, transactions committed…"""
    with _admin_connection(server) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT sessions, xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched "
            "FROM pg_stat_database WHERE datname = %s", [db],
        ).fetchone()
    return dict(zip(("sessions", "commits", "rollbacks", "inserted", "updated", "fetched"), row, strict=True))


def _stat_fields(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def service_cpu_seconds() -> dict[str, float]:
    """CPU used so far by PostgreSQL and Redis on this machine, whoever their clients are.

    PostgreSQL starts a process per connection: those that ended are counted through the
    postmaster's children's time (cutime/cstime, kept by the kernel once it reaps them).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {"postgres": 0.0, "redis": 0.0}
    comms: dict[str, str] = {}
    parents: dict[str, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comms[entry.name] = (entry / "comm").read_text().strip()
        except OSError:
            continue
        fields = _stat_fields(entry.name)
        if fields is None:
            continue
        parents[entry.name] = fields[1]
        name = comms[entry.name]
        service = "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis") else None
        if service is None:
            continue
        totals[service] += (int(fields[11]) + int(fields[12])) / ticks
        if service == "postgres" and not comms.get(fields[1], "").startswith("postgres"):
            totals[service] += (int(fields[13]) + int(fields[14])) / ticks  # the postmaster's reaped children
    return totals


def print_profile(path: Path, top: int, *, title: str) -> None:
    """The top entries of a cProfile stats file, by own time and then by cumulative time."""
    import io
    import pstats

    if not path.exists():
        say(f"(no profile written at {path})")
        return
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(order).print_stats(top)
        text = out.getvalue()
        say(f"\n{title}, top {top} by {order}:")
        say(text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else text.rstrip())
