"""Benchmark: server time of the agents' UI first screens on a big company (target: under 300 ms).

    .venv/bin/python tests/load/ui.py [--conversations 10000] [--messages 5000] [--runs 20] [--keep]

In a throwaway database `conversa_bench_ui`: one company with an admin and agents, one inbox,
`--conversations` conversations with their contacts (mixed statuses and assignees, labels, unread
counts, activity spread over months) and one conversation with `--messages` messages, notes and
timeline events. Each page is fetched through Django's test client on the company's host with a
signed-in session (the whole middleware stack, no network): the inbox (tabs all and mine, as admin
and as agent), the long conversation, and the htmx fragments the screen loads next. Prints p50/p95
server time and the SQL queries of each page, with PASS/FAIL against the 300 ms target.
"""

import argparse
import datetime as dt
import random
import shutil
import tempfile
import time
from pathlib import Path

import _common
from _common import PASSWORD, say

TARGET_MS = 300
LABELS = ["vip", "billing", "shipping", "returns", "lead", "complaint", "wholesale", "urgent-callback",
          "b2b", "promo", "follow-up", "warranty"]
FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Hugo", "Inês", "João",
               "Karina", "Lucas", "Marta", "Nuno", "Olga", "Paulo", "Renata", "Sérgio", "Tânia", "Vítor"]
LAST_NAMES = ["Silva", "Souza", "Costa", "Oliveira", "Pereira", "Lima", "Gomes", "Ribeiro", "Almeida",
              "Carvalho", "Rocha", "Martins"]
TEXTS = ["Olá, tudo bem?", "Where is my order?", "Can I change the delivery address?",
         "Obrigado pela ajuda!", "The package arrived damaged, what can I do?", "Qual o prazo de entrega?",
         "I'd like a refund for order 4711.", "Vocês têm esse modelo em azul?", "Perfect, thanks.",
         "Sure, let me check that for you.", "Your order shipped today, tracking code BR123456789."]


# --- data ----------------------------------------------------------------------------------------

def _set_times(model, times: dict[int, dt.datetime]) -> None:
    """created_at is auto_now_add (bulk_create overwrites it): set it afterwards, in one statement."""
    from django.db import connection

    table = model._meta.db_table
    ids, values = list(times), list(times.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET created_at = v.at FROM unnest(%s::bigint[], %s::timestamptz[]) "
            f"AS v(id, at) WHERE {table}.id = v.id", [ids, values],
        )


def populate(company, *, conversations: int, messages: int, seed: int = 5) -> dict:
    """The company's data (untimed); returns the users and the long conversation's id."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.accounts.services import user_create
    from apps.contacts.models import Contact
    from apps.conversations.models import Conversation, Message, Note, QuickReply, TimelineEvent
    from apps.inboxes.models import MessageTemplate
    from apps.inboxes.services import inbox_create

    rng = random.Random(seed)
    now = timezone.now()
    statuses = (["open"] * 35 + ["queued"] * 12 + ["pending"] * 10 + ["bot"] * 5 + ["closed"] * 32
                + ["archived"] * 6)
    with schema_context(company.schema_name):
        admin = User.objects.get(role=User.Role.ADMIN)
        agent = user_create(actor=None, email=f"agent@{company.slug}.example.com", password=PASSWORD,
                            name="Ana Agent")
        others = [user_create(actor=None, email=f"agent{i}@{company.slug}.example.com", password=PASSWORD,
                              name=f"{FIRST_NAMES[i]} Agent") for i in range(1, 6)]
        inbox = inbox_create(actor=None, name="Bench WhatsApp", provider="sandbox", credentials={})
        for i in range(3):
            MessageTemplate.objects.create(inbox=inbox, name=f"order_update_{i}", language="en",
                                           body="Hi {{1}}, your order {{2}} shipped.")
        QuickReply.objects.bulk_create(
            [QuickReply(shortcut=f"reply{i}", content=f"Hi {{{{contact.first_name}}}}, answer {i}.")
             for i in range(30)]
            + [QuickReply(shortcut=f"mine{i}", content="Thanks {{contact.name}}!", owner=agent)
               for i in range(10)]
        )

        contacts = Contact.objects.bulk_create([
            Contact(name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    phone=f"+55119{i:08d}", email=f"customer{i}@example.com" if i % 3 else "",
                    tags=rng.sample(["vip", "lead", "wholesale"], rng.randint(0, 2)),
                    last_inbound_at=now - dt.timedelta(days=rng.uniform(0, 180)))
            for i in range(conversations)
        ], batch_size=2000)

        # Assignees: the agent, the admin, other agents, nobody (weights for active conversations).
        assignees = [agent] * 15 + [admin] * 5 + others * 8 + [None] * 40
        rows = []
        for i, contact in enumerate(contacts):
            status = rng.choice(statuses)
            active = status in Conversation.ACTIVE_STATUSES
            assignee = rng.choice(assignees) if status not in ("queued", "bot") else None
            last = now - dt.timedelta(days=rng.betavariate(1, 3) * 180, seconds=i)
            rows.append(Conversation(
                contact=contact, inbox=inbox, status=status, assignee=assignee,
                priority=rng.choice(["normal"] * 8 + ["low", "high", "urgent"]),
                labels=rng.sample(LABELS, rng.choice([0, 0, 0, 1, 1, 2, 3])),
                unread_count=rng.choice([0, 0, 0, 1, 2, 5]) if active else 0,
                last_message_at=last, last_inbound_at=last,
                closed_at=last if not active else None,
                assigned_at=last if assignee else None,
            ))
        rows = Conversation.objects.bulk_create(rows, batch_size=2000)
        activity = {c.pk: c.last_message_at - dt.timedelta(hours=rng.uniform(0, 48)) for c in rows}
        _set_times(Conversation, activity)
        # The last message of every conversation, so messages are not all of one conversation.
        last_messages = Message.objects.bulk_create([
            Message(conversation=c, inbox=inbox, direction="inbound", sender_type="contact",
                    text=rng.choice(TEXTS), status="received", provider_message_id=f"wamid.last{c.pk}")
            for c in rows
        ], batch_size=2000)
        _set_times(Message, {m.pk: m.conversation.last_message_at for m in last_messages})

        # The long conversation: a customer of two years, open, assigned to the agent, window open.
        contact = contacts[0]
        long = Conversation.objects.filter(contact=contact).first()
        Conversation.objects.filter(pk=long.pk).update(
            status="open", assignee=agent, labels=["vip", "billing"], unread_count=3,
            last_message_at=now, last_inbound_at=now - dt.timedelta(minutes=5))
        Contact.objects.filter(pk=contact.pk).update(last_inbound_at=now - dt.timedelta(minutes=5),
                                                     custom_fields={})
        older = Conversation.objects.bulk_create([
            Conversation(contact=contact, inbox=inbox, status="closed", assignee=rng.choice(others),
                         last_message_at=now - dt.timedelta(days=30 * (k + 2)),
                         closed_at=now - dt.timedelta(days=30 * (k + 2)))
            for k in range(12)
        ])
        _set_times(Conversation, {c.pk: c.last_message_at for c in older})

        start = now - dt.timedelta(days=120)
        step = (now - start) / messages
        thread, times = [], {}
        for k in range(messages):
            inbound = rng.random() < 0.55
            status = "received" if inbound else rng.choice(["read"] * 6 + ["delivered"] * 3 + ["failed"])
            thread.append(Message(
                conversation=long, inbox=inbox, direction="inbound" if inbound else "outbound",
                sender_type="contact" if inbound else "agent",
                sender_user=None if inbound else rng.choice([agent, admin, *others]),
                text=rng.choice(TEXTS), status=status,
                error_message="Re-engagement message" if status == "failed" else "",
                provider_message_id=f"wamid.long{k}",
            ))
        thread = Message.objects.bulk_create(thread, batch_size=2000)
        for k, message in enumerate(thread):
            times[message.pk] = start + step * k + dt.timedelta(seconds=rng.uniform(0, 30))
        _set_times(Message, times)
        # Replies quoting an earlier message, every 15th message or so.
        quoting = [(m.pk, thread[k - rng.randint(1, 10)].pk) for k, m in enumerate(thread) if k > 10
                   and k % 15 == 0]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE conversations_message SET reply_to_id = v.r FROM unnest(%s::bigint[], "
                "%s::bigint[]) AS v(id, r) WHERE conversations_message.id = v.id",
                [[q[0] for q in quoting], [q[1] for q in quoting]],
            )

        team = [agent, admin, *others]
        notes = Note.objects.bulk_create([
            Note(conversation=long, author=rng.choice(team), text=f"Internal: {rng.choice(TEXTS)}")
            for _ in range(messages // 50)
        ])
        _set_times(Note, {n.pk: start + (now - start) * rng.random() for n in notes})
        kinds = ["assigned", "transferred", "status_changed", "priority_changed", "labels_changed",
                 "unassigned", "snoozed", "note_added"]
        events = []
        for _ in range(messages // 15):
            kind = rng.choice(kinds)
            data = {"assigned": {"assignee_id": rng.choice(team).pk},
                    "transferred": {"assignee_id": rng.choice(team).pk},
                    "status_changed": {"from": "open", "to": rng.choice(["pending", "open", "closed"])},
                    "priority_changed": {"from": "normal", "to": rng.choice(["high", "urgent", "low"])},
                    "labels_changed": {"added": ["vip"], "removed": []}}.get(kind, {})
            events.append(TimelineEvent(conversation=long, actor=rng.choice([*team, None]), kind=kind,
                                        data=data))
        events = TimelineEvent.objects.bulk_create(events)
        _set_times(TimelineEvent, {e.pk: start + (now - start) * rng.random() for e in events})
        # Events of the other conversations (the timeline table is not the long one's alone).
        TimelineEvent.objects.bulk_create([
            TimelineEvent(conversation=c, actor=c.assignee, kind="assigned",
                          data={"assignee_id": c.assignee_id})
            for c in rows if c.assignee_id
        ], batch_size=2000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        counts = {
            "conversations": Conversation.objects.count(),
            "contacts": Contact.objects.count(),
            "messages": Message.objects.count(),
            "long": long.pk,
            "long_messages": Message.objects.filter(conversation=long).count(),
            "notes": Note.objects.count(),
            "events": TimelineEvent.objects.count(),
            "mine": Conversation.objects.filter(assignee=agent, status__in=Conversation.ACTIVE_STATUSES)
            .count(),
        }
    return {"admin": admin, "agent": agent, "counts": counts}


# --- measurement ---------------------------------------------------------------------------------

class Session:
    """A test client signed in on the company's host, like an agent's browser tab."""

    def __init__(self, host: str, user) -> None:
        from django.test import Client

        self.host, self.client = host, Client(HTTP_HOST=host)
        response = self.client.post("/app/login/", {"email": user.email, "password": PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"login of {user.email} failed: {response.status_code}")

    def get(self, path: str, htmx_target: str | None = None):
        from django.db import connection

        headers = {"HX-Request": "true", "HX-Target": htmx_target} if htmx_target else {}
        response = self.client.get(path, headers=headers)
        connection.set_schema_to_public()
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}")
        return response


def measure(session: Session, path: str, *, runs: int, warmup: int,
            htmx_target: str | None = None) -> tuple[list[float], list[float], int, int]:
    """(milliseconds of each run, this process's CPU ms of each, SQL queries of one run, bytes)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        session.get(path, htmx_target)
    with CaptureQueriesContext(connection) as queries:
        size = len(session.get(path, htmx_target).content)
    count = len(queries)  # now: the next request's request_started empties the log it reads
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        session.get(path, htmx_target)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return times, cpu, count, size


def show_queries(session: Session, path: str, htmx_target: str | None = None) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        session.get(path, htmx_target)
    captured = queries.captured_queries
    say(f"  queries of GET {path}:")
    for query in captured:
        say(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:220]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000, help="conversations in the inbox")
    parser.add_argument("--messages", type=int, default=5_000, help="messages of the long conversation")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--queries", action="store_true", help="also print every page's SQL with its time")
    _common.add_db_arguments(parser, default_db="conversa_bench_ui")
    args = parser.parse_args()

    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    # Production serves hashed static names from collectstatic's manifest: the pages need one.
    static_root = Path(tempfile.mkdtemp(prefix="conversa-bench-static-", dir="/tmp"))
    _common.live_environment(HUEY_IMMEDIATE="true",  # sign-ins from one IP; no pool refill mid-run
                             STATIC_ROOT=str(static_root))
    migrate_s = _common.setup_django(migrate=True)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    try:
        started = time.perf_counter()
        company = _common.bench_company("ui")
        data = populate(company, conversations=args.conversations, messages=args.messages)
        counts = data["counts"]
        say(f"company {company.slug}: {counts['conversations']} conversations, {counts['contacts']} "
            f"contacts, {counts['messages']} messages ({counts['long_messages']} in conversation "
            f"#{counts['long']}), {counts['notes']} notes, {counts['events']} timeline events; "
            f"{counts['mine']} active ones assigned to the agent (created in "
            f"{time.perf_counter() - started:.1f} s, untimed)")

        host = f"{company.slug}.localhost"
        admin, agent = Session(host, data["admin"]), Session(host, data["agent"])
        long = counts["long"]
        # The cursors the screens hand out: the list's next page, the timeline's older items.
        first = admin.get("/app/?tab=all").content.decode()
        rows_path = _between(first, 'hx-get="/app/rows/?', '"').replace("&amp;", "&")
        pane = admin.get(f"/app/c/{long}/").content.decode()
        before = _between(pane, 'data-before="', '"')
        if not rows_path or not before:
            raise SystemExit("the inbox or the conversation gave no next page: not enough data?")
        pages = [
            ("inbox, tab all (admin)", admin, "/app/?tab=all", None),
            ("inbox, tab mine (admin)", admin, "/app/?tab=mine", None),
            ("inbox, tab all (agent)", agent, "/app/?tab=all", None),
            ("inbox, tab mine (agent)", agent, "/app/?tab=mine", None),
            (f"conversation, {counts['long_messages']} messages (agent)", agent, f"/app/c/{long}/", None),
            (f"conversation, {counts['long_messages']} messages (admin)", admin, f"/app/c/{long}/", None),
            ("  pane only (htmx)", agent, f"/app/c/{long}/", "conversation-pane"),
            ("  list next page (htmx)", admin, f"/app/rows/?{rows_path}", None),
            ("  older items (htmx)", agent, f"/app/c/{long}/older/?before={before}", None),
            ("  one row (htmx)", agent, f"/app/c/{long}/row/?tab=mine", None),
            ("  counts (htmx)", agent, "/app/counts/", None),
        ]
        _common.check_machine_idle()
        say("")
        say(f"{'page':<42} {'p50':>8} {'p95':>8} {'CPU p50':>8} {'queries':>8} {'KiB':>6}  "
        f"target p95 < {TARGET_MS} ms")
        failed = []
        for label, session, path, target in pages:
            times, cpu, queries, size = measure(session, path, runs=args.runs, warmup=args.warmup,
                                           htmx_target=target)
            p50, p95 = _common.percentile(times, 50), _common.percentile(times, 95)
            verdict = "PASS" if p95 < TARGET_MS else "FAIL"
            if verdict == "FAIL":
                failed.append(label.strip())
            say(f"{label:<42} {p50:>5.1f} ms {p95:>5.1f} ms {_common.median(cpu):>5.1f} ms {queries:>8} "
                f"{size / 1024:>6.0f}  {verdict}")
            if args.queries:
                show_queries(session, path, target)
        say("")
        say(f"server time through Django's test client (whole middleware stack, session on "
            f"{host}), {args.runs} runs per page after {args.warmup} untimed; verdict on p95. CPU: "
            f"this process's alone (Python and templates, not PostgreSQL), telling on a busy machine")
        if failed:
            raise SystemExit(f"over {TARGET_MS} ms: {', '.join(failed)}")
    finally:
        _common.flush_redis(_run_tag())
        shutil.rmtree(static_root, ignore_errors=True)
        if not args.keep:
            _common.drop_database(args.server, args.db)


def _between(text: str, start: str, end: str) -> str:
    at = text.find(start)
    if at < 0:
        return ""
    at += len(start)
    return text[at:text.find(end, at)]


def _run_tag() -> str:
    import os

    return os.environ["REDIS_KEY_PREFIX"]


if __name__ == "__main__":
    main()
