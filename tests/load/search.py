"""Benchmark: the inbox search that ignores accents and reads message text, on 10,000 conversations.

    .venv/bin/python tests/load/search.py [--conversations 10000] [--per-conversation 5] [--runs 20]

In a throwaway database `conversa_bench_search`: the company of tests/load/ui.py (contacts with
accented names, mixed statuses and assignees) plus `--per-conversation` more messages in every
conversation. Prints, for each query, p50/p95 of the search as the agents' UI runs it (the inbox
page with `q`, through Django's test client) and of the selector alone (`conversation_list(…, q=)`,
first page of 30), its CPU, the number of matches, and whether PostgreSQL used the trigram
indexes; next to the same first page searched the old way (names, phone and subject, accents
significant, no message text) for comparison. Also the contacts page's search.
"""

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import _common
import ui
from _common import say

QUERIES = [
    ("accent-free name", "joao"),
    ("accent-free surname", "araujo"),
    ("message text, common", "entrega"),
    ("message text, rare", "4711"),
    ("message text, no match", "zzqqxx"),
    ("phone digits", "9000012"),
    ("two letters (no text search)", "jo"),
]


def add_messages(company, per_conversation: int, seed: int = 7) -> int:
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.conversations.models import Conversation, Message

    rng = random.Random(seed)
    with schema_context(company.schema_name):
        conversations = list(Conversation.objects.values_list("pk", "inbox_id"))
        batch = []
        for pk, inbox_id in conversations:
            for _ in range(per_conversation):
                batch.append(Message(conversation_id=pk, inbox_id=inbox_id, direction="inbound",
                                     sender_type="contact", text=rng.choice(ui.TEXTS), status="received"))
            if len(batch) >= 5000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return Message.objects.count()


def time_it(fn, runs: int) -> tuple[list[float], list[float], object]:
    result = fn()
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return times, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--per-conversation", type=int, default=5, help="extra messages per conversation")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each search")
    _common.add_db_arguments(parser, default_db="conversa_bench_search")
    args = parser.parse_args()

    _common.prepare_database(args.server, args.db, keep=False)  # --keep: only not dropped at the end
    _common.configure_environment(args.server, args.db)
    static_root = Path(tempfile.mkdtemp(prefix="conversa-bench-static-", dir="/tmp"))
    _common.live_environment(HUEY_IMMEDIATE="true", STATIC_ROOT=str(static_root))
    _common.setup_django(migrate=True)
    from django.core.management import call_command
    from django.db.models import Q
    from django_tenants.utils import schema_context

    from apps.conversations.selectors import conversation_list, conversations_visible_to

    call_command("collectstatic", interactive=False, verbosity=0)
    try:
        company = _common.bench_company("search")
        data = ui.populate(company, conversations=args.conversations, messages=1000)
        messages = add_messages(company, args.per_conversation)
        say(f"company {company.slug}: {data['counts']['conversations']} conversations, {messages} messages")
        host = f"{company.slug}.localhost"
        admin, agent = ui.Session(host, data["admin"]), ui.Session(host, data["agent"])
        _common.check_machine_idle()

        def first_page(user, q):
            with schema_context(company.schema_name):
                return list(conversation_list(user, q=q).order_by("-last_message_at", "-id")[:30])

        def old_way(user, q):
            with schema_context(company.schema_name):
                old = Q(contact__name__icontains=q) | Q(contact__phone__icontains=q) | Q(subject__icontains=q)
                found = conversations_visible_to(user).filter(old)
                return list(found.order_by("-last_message_at", "-id")[:30])

        def matches(user, q):
            with schema_context(company.schema_name):
                return conversation_list(user, q=q).count()

        def plan(user, q):
            with schema_context(company.schema_name):
                text = conversation_list(user, q=q).order_by("-last_message_at", "-id")[:30].explain()
            indexes = (("names", "contacts_contact_name_unaccent_trgm"),
                       ("messages", "conversations_message_text_unaccent_trgm"))
            return ",".join(name for name, index in indexes if index in text) or "-"

        say("")
        say(f"{'query':<32} {'who':<6} {'matches':>7} {'page p50':>9} {'p95':>8} {'CPU':>6} "
            f"{'select p50':>10} {'p95':>8} {'old p50':>8}  indexes")
        for label, q in QUERIES:
            for who, user, session in (("admin", data["admin"], admin), ("agent", data["agent"], agent)):
                path = f"/app/?tab=all&status=any&q={q}"
                page_times, page_cpu, _ = time_it(lambda s=session, p=path: s.get(p), args.runs)
                select_times, _, _ = time_it(lambda u=user, q=q: first_page(u, q), args.runs)
                old_times, _, _ = time_it(lambda u=user, q=q: old_way(u, q), args.runs)
                pct = _common.percentile
                say(f"{label + ' ' + repr(q):<32} {who:<6} {matches(user, q):>7} "
                    f"{pct(page_times, 50):>6.1f} ms {pct(page_times, 95):>5.1f} ms "
                    f"{_common.median(page_cpu):>4.1f} ms "
                    f"{pct(select_times, 50):>7.1f} ms {pct(select_times, 95):>5.1f} ms "
                    f"{pct(old_times, 50):>5.1f} ms  {plan(user, q)}")
                if args.explain:
                    with schema_context(company.schema_name):
                        found = conversation_list(user, q=q).order_by("-last_message_at", "-id")[:30]
                        say(found.explain(analyze=True))
        say("")
        for q in ("joao", "souza", "customer12"):
            times, cpu, _ = time_it(lambda q=q: agent.get(f"/app/contacts/?q={q}"), args.runs)
            say(f"contacts page q={q!r:<14} p50 {_common.percentile(times, 50):.1f} ms, "
                f"p95 {_common.percentile(times, 95):.1f} ms, CPU {_common.median(cpu):.1f} ms")
        say("")
        say(f"{args.runs} runs each after one untimed; page = the inbox page with the search (whole "
            f"middleware stack, test client); select = conversation_list's first page of 30 alone; old = "
            f"the same page searched by name/phone/subject with accents, no message text")
    finally:
        _common.flush_redis(ui._run_tag())
        shutil.rmtree(static_root, ignore_errors=True)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
