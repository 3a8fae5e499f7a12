"""Benchmark: time from upload to `clean` (clamd scan, image re-encoding) and scan throughput.

    .venv/bin/python tests/load/scan.py [--sizes 1,10] [--runs 10] [--images 10] [--raw-runs 5]
        [--format pdf|txt] [--server-workers 1] [--huey-threads 2] [--poll 0.01] [--keep]

In a throwaway database `conversa_bench_scan`, with a throwaway MEDIA_ROOT and a real clamd started
as tests/fixtures/clamd.py does (the project's test signatures, deploy/clamav/clamd.conf.template;
its socket exported as CLAMD_SOCKET to this process, the server and the worker): one company (plan
enterprise), uvicorn (`conversa.asgi`) and one Huey consumer as subprocesses. Agents sign in through
`POST /api/v1/auth/login`; the uploads rotate over enough of them to stay under the per-user limit
of 20 uploads a minute.

For each size in `--sizes` (MB, 1 MB = 1,048,576 bytes), `--runs` documents are uploaded one after
another (`POST /api/v1/media`, multipart `file`), each with distinct content (clamd caches results
per content): a minimal PDF (`%PDF-1.7`, random printable bytes, `%%EOF`) or, with `--format txt`,
random letters. After each 201 the script polls `GET /api/v1/media/{id}` every `--poll` seconds
until the status leaves `scanning`, then uploads the next. Then `--images` noisy 3000×2000 JPEGs
(~3 MB), which the worker also re-encodes (and compresses: they exceed 2 MB) and thumbnails. It
prints, per series:

- upload request: POST sent → 201 received (body transfer, sniffing, storing in quarantine);
- upload → clean: POST sent → the poll that saw `clean` (median, p90, max), and 201 → clean;
- throughput: size / upload → clean (median), in MB/s; and the upload request's alone;
- the server's own clock: `created_at` → `scanned_at` of the record (no polling delay);
- the CPU clamd, the Huey worker and uvicorn spent per file.

For comparison, `apps.media.scanner.scan_stream` is called in this process on `--raw-runs` files
of each size held in memory: clamd's INSTREAM throughput alone, without HTTP, storage or queue.
"""

import argparse
import datetime as dt
import io
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common
from _common import PASSWORD, say

MB = 1024 * 1024
UPLOADS_PER_USER = 15  # the endpoint allows 20 per user and minute
IMAGE_SIZE = (3000, 2000)
# Printable ASCII without space (33…126) for the PDF filler; letters for the text format.
PRINTABLE = bytes(33 + i % 94 for i in range(256))
LETTERS = bytes(ord("a") + i % 26 for i in range(256))


@dataclass
class Series:
    label: str
    size: int  # bytes uploaded
    uploads: list[float] = field(default_factory=list)  # POST → 201, seconds
    totals: list[float] = field(default_factory=list)  # POST → poll that saw clean
    after: list[float] = field(default_factory=list)  # 201 → poll that saw clean
    server: list[float] = field(default_factory=list)  # created_at → scanned_at
    stored: list[dict] = field(default_factory=list)  # the final records
    failures: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)


# --- payloads ------------------------------------------------------------------------------------

def document(size: int, fmt: str) -> tuple[str, bytes, str]:
    """(filename, content, declared type) of a document of exactly `size` bytes, random content."""
    if fmt == "pdf":
        head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
        body = os.urandom(size - len(head) - len(tail)).translate(PRINTABLE)
        return "bench.pdf", head + body + tail, "application/pdf"
    lines = bytearray(os.urandom(size).translate(LETTERS))
    lines[99::100] = b"\n" * len(lines[99::100])
    return "bench.txt", bytes(lines), "text/plain"


class Photos:
    """Noisy JPEGs (~3 MB at 3000×2000): one noise field, each photo with its own random patch."""

    def __init__(self, size: tuple[int, int]):
        from PIL import Image

        gradient = Image.linear_gradient("L").resize(size)
        self.base = Image.merge("RGB", [Image.blend(gradient, Image.effect_noise(size, 40), 0.5)
                                        for _ in range(3)])

    def make(self) -> tuple[str, bytes, str]:
        from PIL import Image

        image = self.base.copy()
        image.paste(Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)), (0, 0))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        return "bench.jpg", buffer.getvalue(), "image/jpeg"


# --- clamd ---------------------------------------------------------------------------------------

def start_clamd(run_dir: Path):
    """A clamd with the test signatures, as tests/fixtures/clamd.py starts it (without pytest)."""
    from tests.fixtures.clamd import ClamdServer, clamd_binary

    binary = clamd_binary()
    if binary is None:
        raise SystemExit("clamd is not installed: run deploy/bootstrap.sh or "
                         "`apt-get install clamav clamav-daemon`")
    server = ClamdServer(binary, run_dir)
    try:
        server.start()
    except RuntimeError as exc:
        raise SystemExit(f"could not start clamd ({server.config_path}): {exc}") from exc
    return server


def raw_scans(sizes: list[float], runs: int, fmt: str) -> list[tuple[int, list[float]]]:
    """scan_stream on in-memory files (distinct content each), after one untimed scan."""
    from apps.media.scanner import scan_stream

    scan_stream(io.BytesIO(document(MB, fmt)[1]))
    results = []
    for size_mb in sizes:
        size = int(size_mb * MB)
        times = []
        for _ in range(runs):
            data = io.BytesIO(document(size, fmt)[1])
            started = time.perf_counter()
            result = scan_stream(data)
            times.append(time.perf_counter() - started)
            if result.infected:
                raise SystemExit(f"clamd found {result.signature} in random content")
        results.append((size, times))
    return results


# --- the live pipeline ---------------------------------------------------------------------------

class Uploader:
    """Uploads one file at a time and waits for its scan; rotates over the agents' tokens."""

    def __init__(self, client, tokens: list[str], poll: float, timeout: float):
        self.client, self.tokens, self.poll, self.timeout = client, tokens, poll, timeout
        self.count = 0

    def _headers(self) -> dict[str, str]:
        token = self.tokens[self.count // UPLOADS_PER_USER % len(self.tokens)]
        self.count += 1
        return {"Authorization": f"Bearer {token}"}

    def one(self, filename: str, content: bytes, mime: str) -> tuple[float, float, dict]:
        """(POST → 201, POST → final status seen, the final record); raises RuntimeError."""
        headers = self._headers()
        started = time.perf_counter()
        response = self.client.post("/api/v1/media", files={"file": (filename, content, mime)},
                                    headers=headers)
        uploaded = time.perf_counter()
        if response.status_code != 201:
            raise RuntimeError(f"upload refused: {response.status_code} {response.text[:300]}")
        media = response.json()
        deadline = uploaded + self.timeout
        while media["status"] == "scanning":
            if time.perf_counter() > deadline:
                raise RuntimeError(f"media {media['id']} still scanning after {self.timeout:.0f} s")
            time.sleep(self.poll)
            polled = self.client.get(f"/api/v1/media/{media['id']}", headers=headers)
            if polled.status_code != 200:
                raise RuntimeError(f"GET media: {polled.status_code} {polled.text[:300]}")
            media = polled.json()
        return uploaded - started, time.perf_counter() - started, media


def run_series(uploader: Uploader, stack, clamd, series: Series,
               payloads: list[tuple[str, bytes, str]]) -> None:
    cpu_before = {"clamd": _common.cpu_seconds(clamd.process.pid),
                  "huey": stack.cpu("huey"), "uvicorn": stack.cpu("uvicorn")}
    for payload in payloads:
        try:
            upload_s, total_s, media = uploader.one(*payload)
        except RuntimeError as exc:
            series.failures.append(str(exc))
            stack.check_alive()
            continue
        if media["status"] != "clean":
            series.failures.append(f"media {media['id']} ended {media['status']} "
                                   f"{media['reject_reason'] or media['signature']}".rstrip())
            continue
        series.uploads.append(upload_s)
        series.totals.append(total_s)
        series.after.append(total_s - upload_s)
        created = dt.datetime.fromisoformat(media["created_at"])
        scanned = dt.datetime.fromisoformat(media["scanned_at"])
        series.server.append((scanned - created).total_seconds())
        series.stored.append(media)
    series.cpu = {
        "clamd": _common.cpu_seconds(clamd.process.pid) - cpu_before["clamd"],
        "huey": stack.cpu("huey") - cpu_before["huey"],
        "uvicorn": stack.cpu("uvicorn") - cpu_before["uvicorn"],
    }


def sign_in(client, company, count: int) -> list[str]:
    """Access tokens of `count` users (the admin, then new agents) through the login endpoint."""
    from django.db import connections
    from django_tenants.utils import schema_context

    from apps.accounts.services import user_create

    emails = [f"admin@{company.slug}.example.com"]
    with schema_context(company.schema_name):
        for i in range(1, count):
            emails.append(user_create(actor=None, email=f"agent{i}@{company.slug}.example.com",
                                      password=PASSWORD,
                                      name=f"Agent {i}").email)
    connections.close_all()
    tokens = []
    for email in emails:
        response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        if response.status_code != 200:
            raise SystemExit(f"login failed: {response.status_code} {response.text}")
        tokens.append(response.json()["access"])
    return tokens


# --- output --------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def mb(size: float) -> str:
    return f"{size / MB:.2f} MB" if size < 10 * MB else f"{size / MB:.1f} MB"


def rate(size: float, seconds: float) -> str:
    return f"{size / MB / seconds:.1f} MB/s" if seconds > 0 else "n/a"


def report_series(series: Series) -> None:
    n = len(series.totals)
    say("")
    failed = f", {len(series.failures)} failed" if series.failures else ""
    say(f"{series.label}: {n} uploads one after another{failed}")
    for failure in series.failures[:5]:
        say(f"  !! {failure}")
    if not n:
        return
    med, p90, top = _common.median, _common.percentile, max
    say(f"  upload request (POST → 201):        median {ms(med(series.uploads))}, "
        f"p90 {ms(p90(series.uploads, 90))}, max {ms(top(series.uploads))}")
    say(f"  upload → clean (poll saw it):       median {ms(med(series.totals))}, "
        f"p90 {ms(p90(series.totals, 90))}, max {ms(top(series.totals))}")
    say(f"    of which 201 → clean:             median {ms(med(series.after))}, "
        f"p90 {ms(p90(series.after, 90))}")
    say(f"    server clock, created → scanned:  median {ms(med(series.server))}, "
        f"p90 {ms(p90(series.server, 90))} (queue + scan + re-encoding, no polling delay)")
    say(f"  throughput: {rate(series.size, med(series.totals))} upload → clean "
        f"(p90 {rate(series.size, p90(series.totals, 90))}); upload request alone "
        f"{rate(series.size, med(series.uploads))}")
    say("  CPU per file: " + ", ".join(f"{name} {ms(value / n)}" for name, value in series.cpu.items()))
    last = series.stored[-1]
    if last["kind"] == "image":
        sizes = [media["size"] for media in series.stored]
        say(f"  stored after re-encoding: {last['width']}×{last['height']} {last['mime_type']}, "
            f"median {mb(_common.median(sizes))} (uploaded {mb(series.size)}), with a thumbnail")


def report_raw(raw: list[tuple[int, list[float]]]) -> None:
    say("")
    say("raw clamd INSTREAM (apps.media.scanner.scan_stream in this process, file in memory, "
        "distinct content each):")
    for size, times in raw:
        med = _common.median(times)
        say(f"  {mb(size)} × {len(times)}: median {ms(med)}, p90 {ms(_common.percentile(times, 90))} "
            f"→ {rate(size, med)} (p90 {rate(size, _common.percentile(times, 90))})")


def report_summary(all_series: list[Series], raw: list[tuple[int, list[float]]]) -> None:
    say("")
    say(f"{'summary':<34} {'upload→clean median':>20} {'p90':>9} {'MB/s':>7}")
    for series in all_series:
        if series.totals:
            med, p90 = _common.median(series.totals), _common.percentile(series.totals, 90)
            say(f"{series.label:<34} {ms(med):>20} {ms(p90):>9} {series.size / MB / med:>7.1f}")
    for size, times in raw:
        med = _common.median(times)
        say(f"{'raw INSTREAM ' + mb(size):<34} {ms(med):>20} {ms(_common.percentile(times, 90)):>9} "
            f"{size / MB / med:>7.1f}")


# --- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10", help="document sizes in MB, comma-separated")
    parser.add_argument("--runs", type=int, default=10, help="uploads per document size")
    parser.add_argument("--images", type=int, default=10, help="3000×2000 JPEG uploads (0: none)")
    parser.add_argument("--raw-runs", type=int, default=5, help="in-process scan_stream calls per size")
    parser.add_argument("--format", choices=("pdf", "txt"), default="pdf", help="document type uploaded")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn --workers")
    parser.add_argument("--huey-threads", type=int, default=2, help="threads of the Huey consumer")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between status polls")
    parser.add_argument("--timeout", type=float, default=60, help="give up on a file after this many seconds")
    _common.add_db_arguments(parser, default_db="conversa_bench_scan")
    args = parser.parse_args()
    sizes = [float(value) for value in args.sizes.split(",") if value.strip()]

    _common.install_signal_handlers()
    work_dir = Path(tempfile.mkdtemp(prefix="conversa-bench-scan-", dir="/tmp"))
    media_root = work_dir / "media"
    media_root.mkdir()
    clamd = stack = tag = None
    failed, database_ready = True, False
    try:
        clamd = start_clamd(work_dir / "clamd")
        fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
        database_ready = True
        _common.configure_environment(args.server, args.db)
        # conversa.settings reads CLAMD_SOCKET; conversa.settings_test reads CONVERSA_TEST_CLAMD_SOCKET.
        tag = _common.live_environment(CLAMD_SOCKET=str(clamd.socket_path),
                                       CONVERSA_TEST_CLAMD_SOCKET=str(clamd.socket_path),
                                       MEDIA_ROOT=str(media_root))
        migrate_s = _common.setup_django(migrate=True)
        say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s; "
            f"clamd {clamd.binary} on {clamd.socket_path}")

        company = _common.bench_company("scan")
        total_uploads = 2 + args.runs * len(sizes) + args.images
        users = max(1, math.ceil(total_uploads / UPLOADS_PER_USER))

        started = time.perf_counter()
        documents = {size: [document(int(size * MB), args.format) for _ in range(args.runs)]
                     for size in sizes}
        photos = Photos(IMAGE_SIZE) if args.images else None
        images = [photos.make() for _ in range(args.images)] if photos else []
        say(f"payloads generated in {time.perf_counter() - started:.1f} s (untimed)")

        _common.check_machine_idle()
        raw = raw_scans(sizes, args.raw_runs, args.format) if args.raw_runs else []

        stack = _common.LiveStack()
        stack.start_server(workers=args.server_workers)
        stack.start_worker(threads=args.huey_threads)

        import httpx

        host = f"{company.slug}.localhost:{stack.port}"
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", headers={"Host": host},
                          timeout=args.timeout) as client:
            tokens = sign_in(client, company, users)
            say(f"company {company.slug}; uvicorn on 127.0.0.1:{stack.port} ({args.server_workers} "
                f"worker(s)), 1 Huey consumer × {args.huey_threads} threads; {users} user(s) share "
                f"{total_uploads} uploads (the limit is 20 uploads a minute per user); polling every "
                f"{args.poll * 1000:.0f} ms")
            uploader = Uploader(client, tokens, args.poll, args.timeout)
            # Warm-up, not counted: the server and the worker import and connect once, the
            # worker's image code too.
            warm = [document(64 * 1024, args.format)] + ([Photos((640, 480)).make()] if args.images else [])
            warm_series = Series("warm-up", 0)
            run_series(uploader, stack, clamd, warm_series, warm)
            if warm_series.failures:
                raise SystemExit(f"warm-up failed: {warm_series.failures}\n{stack.log_tail('huey-0')}")

            all_series = []
            for size in sizes:
                series = Series(f"document {mb(size * MB)} (.{args.format})", int(size * MB))
                run_series(uploader, stack, clamd, series, documents[size])
                report_series(series)
                all_series.append(series)
            if images:
                average = sum(len(image[1]) for image in images) / len(images)
                series = Series(f"JPEG {IMAGE_SIZE[0]}×{IMAGE_SIZE[1]} ({mb(average)})", int(average))
                run_series(uploader, stack, clamd, series, images)
                report_series(series)
                all_series.append(series)
        stack.check_alive()
        if raw:
            report_raw(raw)
        report_summary(all_series, raw)
        failed = any(series.failures for series in all_series)
        if failed:
            raise SystemExit("some uploads failed (above)")
    finally:
        if stack is not None:
            stack.close(keep_logs=failed)
        if clamd is not None:
            clamd.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
        if tag is not None:
            _common.flush_redis(tag)
        if database_ready and not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
