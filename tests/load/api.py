"""Benchmark: the tenant API's busiest reads over HTTP — the conversation list, a conversation's
messages and contact search — with team visibility, at concurrency 1 and 16.

    .venv/bin/python tests/load/api.py [--conversations 10000] [--seconds 8] [--keep] [--profile F]

In a throwaway database `conversa_bench_api`: one company with 20 agents in 4 teams, one inbox and
`--conversations` conversations in progress (open, queued, pending; a team each but a tenth;
assigned to an agent or waiting), each with its last messages and the list's message preview.
A real uvicorn process (one worker) serves; clients sign in over the API and use their bearer token.
For each request kind and concurrency it prints p50/p95 latency, requests/s and the web process's
CPU per request (its user + system time over the requests served: Python, not PostgreSQL), with
PASS/FAIL of the list against the target of 6 ms of web CPU per request.
"""

import argparse
import asyncio
import datetime as dt
import random
import time

import _common
from _common import PASSWORD, say

TARGET_LIST_CPU_MS = 6.0
FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Hugo", "Inês", "João",
               "Karina", "Lucas", "Marta", "Nuno", "Olga", "Paulo", "Renata", "Sérgio", "Tânia", "Vítor"]
LAST_NAMES = ["Silva", "Souza", "Costa", "Oliveira", "Pereira", "Lima", "Gomes", "Ribeiro", "Almeida",
              "Carvalho", "Rocha", "Martins"]
TEXTS = ["Olá, tudo bem?", "Where is my order?", "Can I change the delivery address?",
         "Obrigado pela ajuda!", "The package arrived damaged, what can I do?", "Qual o prazo de entrega?",
         "I'd like a refund for order 4711.", "Vocês têm esse modelo em azul?", "Perfect, thanks."]
MESSAGES_PER_CONVERSATION = 3


def populate(company, *, conversations: int, seed: int = 12) -> dict:
    """The company's data (untimed): returns the users who read, a busy conversation and a query."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.accounts.services import user_create
    from apps.contacts.models import Contact
    from apps.conversations.models import Conversation, Message
    from apps.inboxes.services import inbox_create
    from apps.teams.models import Team, TeamMember

    rng = random.Random(seed)
    now = timezone.now()
    with schema_context(company.schema_name):
        admin = User.objects.get(role=User.Role.ADMIN)
        agents = [user_create(actor=None, email=f"agent{i}@{company.slug}.example.com", password=PASSWORD,
                              name=f"{FIRST_NAMES[i]} Agent") for i in range(20)]
        teams = [Team.objects.create(name=f"Team {name}", routing="manual")
                 for name in ("Sales", "Support", "Billing", "Returns")]
        # Every agent in one team, the first five in two: team visibility has work to do.
        TeamMember.objects.bulk_create(
            [TeamMember(team=teams[i % 4], user=agent) for i, agent in enumerate(agents)]
            + [TeamMember(team=teams[(i + 1) % 4], user=agent) for i, agent in enumerate(agents[:5])]
        )
        inbox = inbox_create(actor=None, name="Bench WhatsApp", provider="sandbox", credentials={})
        contacts = Contact.objects.bulk_create([
            Contact(name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", phone=f"+55119{i:08d}",
                    email=f"customer{i}@example.com" if i % 3 else "",
                    last_inbound_at=now - dt.timedelta(minutes=i))
            for i in range(conversations)
        ], batch_size=2000)
        rows = []
        for i, contact in enumerate(contacts):
            status = rng.choice(["open"] * 6 + ["queued"] * 3 + ["pending"])
            team = rng.choice([*teams, *teams, None]) if rng.random() < 0.9 else None
            assignee = None if status == "queued" else rng.choice(agents)
            last = now - dt.timedelta(minutes=i * 0.7)
            rows.append(Conversation(
                contact=contact, inbox=inbox, status=status, assignee=assignee, team=team,
                priority=rng.choice(["normal"] * 8 + ["low", "high", "urgent"]),
                unread_count=rng.choice([0, 0, 1, 2]), last_message_at=last, last_inbound_at=last,
                queued_at=last if status == "queued" else None, assigned_at=last if assignee else None,
                last_message_preview=rng.choice(TEXTS),
            ))
        rows = Conversation.objects.bulk_create(rows, batch_size=2000)
        Message.objects.bulk_create([
            Message(conversation=c, inbox=inbox, direction="inbound", sender_type="contact",
                    text=rng.choice(TEXTS), status="received", provider_message_id=f"wamid.{c.pk}.{k}")
            for c in rows for k in range(MESSAGES_PER_CONVERSATION)
        ], batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        reader = agents[0]
        busy = Conversation.objects.filter(assignee=reader).order_by("-last_message_at").first()
        mine = Conversation.objects.filter(assignee=reader).count()
    return {"admin": admin, "agent": reader, "conversation": busy.pk, "mine": mine}


class Client:
    def __init__(self, port: int, host: str):
        import httpx

        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Host": host},
                                      timeout=30, limits=httpx.Limits(max_connections=64))

    async def sign_in(self, email: str) -> str:
        response = await self.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        if response.status_code != 200:
            raise SystemExit(f"login of {email}: {response.status_code} {response.text[:200]}")
        return response.json()["access"]

    async def close(self) -> None:
        await self.http.aclose()


async def _load(client: Client, token: str, path: str, *, concurrency: int, seconds: float,
                server_pid: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(5):  # warm caches and connections, untimed
        response = await client.http.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker():
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.http.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code}")
            latencies.append((time.perf_counter() - started) * 1000)

    cpu_before, started = _common.cpu_seconds(server_pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, _common.cpu_seconds(server_pid) - cpu_before
    return {
        "requests": len(latencies),
        "p50": _common.percentile(latencies, 50),
        "p95": _common.percentile(latencies, 95),
        "rps": len(latencies) / elapsed,
        "cpu_ms": cpu * 1000 / len(latencies),
    }


async def _run(args, port: int, server_pid: int, host: str, data: dict) -> list[str]:
    client = Client(port, host)
    try:
        agent_token = await client.sign_in(data["agent"].email)
        admin_token = await client.sign_in(data["admin"].email)
        conversation = data["conversation"]
        kinds = [
            # The floor: uvicorn, the ASGI handler and one middleware, no tenant, no query.
            ("health (server floor)", admin_token, "/health"),
            ("list, agent (team visibility)", agent_token, "/api/v1/conversations?limit=25"),
            ("list, admin", admin_token, "/api/v1/conversations?limit=25"),
            ("list, agent, tab mine", agent_token, "/api/v1/conversations?assignee=me&limit=25"),
            ("messages", agent_token, f"/api/v1/conversations/{conversation}/messages?limit=25"),
            ("contact search", admin_token, "/api/v1/contacts?q=silva&limit=25"),
            ("conversation search", agent_token, "/api/v1/conversations?q=silva&limit=25"),
        ]
        failed = []
        say(f"{'request':<32} {'clients':>7} {'p50':>9} {'p95':>9} {'req/s':>7} {'web CPU/req':>12}")
        for concurrency in (1, 16):
            for label, token, path in kinds:
                result = await _load(client, token, path, concurrency=concurrency, seconds=args.seconds,
                                     server_pid=server_pid)
                verdict = ""
                if label.startswith("list"):
                    verdict = "PASS" if result["cpu_ms"] <= TARGET_LIST_CPU_MS else "FAIL"
                    if verdict == "FAIL":
                        failed.append(f"{label} at {concurrency}")
                say(f"{label:<32} {concurrency:>7} {result['p50']:>6.1f} ms {result['p95']:>6.1f} ms "
                    f"{result['rps']:>7.0f} {result['cpu_ms']:>9.2f} ms  {verdict}")
        return failed
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000, help="conversations in progress")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per request kind")
    parser.add_argument("--profile", help="write the web process's cProfile stats to this file")
    _common.add_db_arguments(parser, default_db="conversa_bench_api")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack = _common.LiveStack()
    _common.install_signal_handlers()
    try:
        started = time.perf_counter()
        company = _common.bench_company("api")
        data = populate(company, conversations=args.conversations)
        say(f"company {company.slug}: {args.conversations} conversations in progress, 20 agents in 4 "
            f"teams; the agent reading holds {data['mine']} (created in "
            f"{time.perf_counter() - started:.1f} s, untimed)")
        from pathlib import Path

        stack.start_server(profile_to=Path(args.profile) if args.profile else None)
        server_pid = stack.processes[-1][1].pid
        _common.check_machine_idle()
        say("")
        failed = asyncio.run(_run(args, stack.port, server_pid, f"{company.slug}.localhost", data))
        say("")
        say(f"one uvicorn process, HTTP/1.1 keep-alive, bearer tokens; {args.seconds:.0f} s per row; "
            f"web CPU: the server process's user + system time per request (target for the list: "
            f"≤ {TARGET_LIST_CPU_MS:.0f} ms)")
        if failed:
            raise SystemExit(f"over {TARGET_LIST_CPU_MS} ms of web CPU per list request: {', '.join(failed)}")
    finally:
        stack.stop()
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
