"""Benchmark: importing a 100,000-row CSV of contacts through the API and a real Huey worker.

    .venv/bin/python tests/load/import.py [--rows 100000] [--existing 10000] [--invalid 500]
        [--duplicates 500] [--threads 2] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_import`: one company (plan enterprise) with `--existing`
contacts already there; uvicorn and one Huey consumer run as subprocesses. A CSV is generated with
`--rows` data rows: new numbers, numbers of the existing contacts (skipped: the import runs without
`update_existing`), `--invalid` rows with a broken phone and `--duplicates` repeating an earlier row of
the file. It is POSTed to `/api/v1/contacts/imports` as the company's admin while a websocket client
of that admin collects the `import.progress` frames. Printed: the upload's answer time, the import's
time from the 202 to the last frame, rows/s, the frames and their largest gap (acceptance: at least
one a second), and the exact result counts checked against what the file holds (and the contacts
table).
"""

import argparse
import asyncio
import json
import random
import sys
import time

import _common
from _common import say


def make_csv(rows: int, existing: list[str], invalid: int, duplicates: int) -> tuple[bytes, dict]:
    """The file and the counts its import must report."""
    rng = random.Random(13)
    new_count = rows - len(existing) - invalid - duplicates
    new_phones = [f"+55219{n:08d}" for n in rng.sample(range(10**8), new_count)]
    lines = ["Telefone;Nome;E-mail;Etiquetas;Cidade"]
    kinds = ["new"] * new_count + ["existing"] * len(existing) + ["invalid"] * invalid
    rng.shuffle(kinds)
    new_iter, old_iter, written = iter(new_phones), iter(existing), []
    for index, kind in enumerate(kinds):
        phone = next(new_iter) if kind == "new" else next(old_iter) if kind == "existing" else "12-34"
        lines.append(f"{phone};Cliente {index};cliente{index}@exemplo.com;bench,lote {index % 7};Niterói")
        if kind != "invalid":
            written.append(lines[-1])
    for line in rng.sample(written, duplicates):
        lines.insert(rng.randrange(1, len(lines) + 1), line)  # anywhere after the header
    expected = {"total": rows, "imported": new_count, "updated": 0,
                "skipped": len(existing) + invalid + duplicates, "errors": invalid + duplicates}
    return ("\n".join(lines) + "\n").encode("utf-8"), expected


async def watch(url: str, port: int, frames: list, ready: asyncio.Event, done: asyncio.Event) -> None:
    import websockets

    async with websockets.connect(url, host="127.0.0.1", port=port, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        ready.set()
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] != "import.progress":
                continue
            frames.append((time.perf_counter(), frame["data"]))
            if frame["data"]["status"] in ("completed", "failed"):
                done.set()
                return


async def run(args, stack, company, token: str, content: bytes) -> dict:
    import httpx

    host = f"{company.slug}.localhost"
    frames: list = []
    ready, done = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(watch(f"ws://{host}:{stack.port}/ws/v1/?token={token}", stack.port,
                                        frames, ready, done))
    await asyncio.wait_for(ready.wait(), 10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.port}", timeout=120,
                                 headers={"Host": f"{host}:{stack.port}"}) as http:
        started = time.perf_counter()
        response = await http.post("/api/v1/contacts/imports", headers={"Authorization": f"Bearer {token}"},
                                   files={"file": ("bench.csv", content, "text/csv")})
        accepted = time.perf_counter()
        if response.status_code != 202:
            raise SystemExit(f"upload refused: {response.status_code} {response.text}")
        await asyncio.wait_for(done.wait(), args.timeout)
        finished = time.perf_counter()
        result = (await http.get(f"/api/v1/contacts/imports/{response.json()['id']}",
                                 headers={"Authorization": f"Bearer {token}"})).json()
    watcher.cancel()
    return {"upload_s": accepted - started, "run_s": finished - accepted, "frames": frames,
            "result": result, "accepted_at": accepted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=10_000, help="rows whose phone is a contact already")
    parser.add_argument("--invalid", type=int, default=500, help="rows with a broken phone")
    parser.add_argument("--duplicates", type=int, default=500, help="rows repeating an earlier row's phone")
    parser.add_argument("--threads", type=int, default=2, help="Huey consumer threads")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the import")
    parser.add_argument("--keep-logs", action="store_true")
    _common.add_db_arguments(parser, default_db="conversa_bench_import")
    args = parser.parse_args()

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack, failed = None, True
    try:
        from django_tenants.utils import schema_context

        from apps.accounts.models import User
        from apps.contacts.models import Contact

        company = _common.bench_company("imp")
        existing = [f"+55119{n:08d}" for n in range(args.existing)]
        with schema_context(company.schema_name):
            Contact.objects.bulk_create([Contact(phone=phone, name="Antigo") for phone in existing])
            admin = User.objects.get(role="admin")
        token = _common.access_token(company, admin)
        content, expected = make_csv(args.rows, existing, args.invalid, args.duplicates)
        say(f"company {company.slug}: {args.existing} contacts; CSV of {args.rows} rows, "
            f"{len(content) / 1e6:.1f} MB")
        _common.check_machine_idle()
        stack = _common.LiveStack()
        stack.start_server(workers=1)
        stack.start_worker(threads=args.threads)
        measured = asyncio.run(run(args, stack, company, token, content))
        failed = not report(args, measured, expected, company)
    finally:
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)
    sys.exit(1 if failed else 0)


def report(args, measured: dict, expected: dict, company) -> bool:
    from django_tenants.utils import schema_context

    from apps.contacts.models import Contact

    result, frames = measured["result"], measured["frames"]
    times = [measured["accepted_at"]] + [at for at, _data in frames]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    run_s = measured["run_s"]
    say(f"upload (sniff, decode, count, store) answered 202 in {measured['upload_s']:.2f} s")
    say(f"import of {args.rows} rows: {run_s:.1f} s from the 202 to the last frame = "
        f"{args.rows / run_s:,.0f} rows/s")
    say(f"import.progress frames: {len(frames)} ({len(frames) / run_s:.1f}/s), largest gap "
        f"{max(gaps):.2f} s (acceptance: ≤ 1 s)")
    got = {key: result[key] for key in ("total", "imported", "updated", "skipped")}
    got["errors"] = len(result["errors"])
    with schema_context(company.schema_name):
        contacts = Contact.objects.count()
    say(f"result {got} (expected {expected}); contacts now {contacts} "
        f"(expected {args.existing + expected['imported']})")
    ok = (got == expected and result["status"] == "completed" and max(gaps) <= 1.0
          and contacts == args.existing + expected["imported"])
    say("PASS" if ok else "FAIL")
    return ok


if __name__ == "__main__":
    main()
