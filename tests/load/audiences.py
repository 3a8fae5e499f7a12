"""Benchmark: contact lists, segments, merge and erasure on a company with 100,000 contacts.

    .venv/bin/python tests/load/audiences.py [--contacts 100000] [--runs 10]

In a throwaway database `conversa_bench_audiences`. Prints: adding 10,000 members to a list in one
call (and again, when all are in: ON CONFLICT DO NOTHING), the lists page's member counts, a
segment's live count for a few filters (p50/p95) and the first page of its contacts, a merge of two
contacts with 20 conversations each, and the erasure of a contact with 2,000 messages.
"""

import argparse
import random
import time

import _common
from _common import say

TAGS = ["vip", "sp", "rj", "promo", "lead", "churn", "b2b", "newsletter"]
STATUSES = ["new", "contacted", "qualified", "customer", "lost"]
NAMES = ["Ana", "Bruno", "Carla", "Davi", "Elisa", "Fábio", "João", "Márcia", "Paulo", "Rita"]


def populate(company, contacts: int, seed: int = 13) -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.contacts.models import Contact, CustomFieldDefinition

    rng = random.Random(seed)
    with schema_context(company.schema_name):
        CustomFieldDefinition.objects.create(key="plan", label="Plan", type="choice",
                                             choices=["gold", "silver"])
        batch = []
        for i in range(contacts):
            batch.append(Contact(
                phone=f"+5511{900000000 + i}", name=f"{rng.choice(NAMES)} {i}", tags=rng.sample(TAGS, 2),
                lead_status=rng.choice(STATUSES), custom_fields={"plan": rng.choice(["gold", "silver"])},
            ))
            if len(batch) == 10_000:
                Contact.objects.bulk_create(batch)
                batch = []
        Contact.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(fn, runs: int = 1) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def conversations_for(company, contact, inbox, count: int, messages: int) -> None:
    from django.utils import timezone

    from apps.conversations.models import Conversation, Message

    made = Conversation.objects.bulk_create([
        Conversation(contact=contact, inbox=inbox, status="closed", closed_at=timezone.now())
        for _ in range(count)
    ])
    Message.objects.bulk_create([
        Message(conversation=conversation, inbox=inbox, direction="inbound", sender_type="contact",
                text=f"message {n} of {contact.name}", status="received")
        for conversation in made for n in range(messages)
    ], batch_size=5000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    _common.add_db_arguments(parser, default_db="conversa_bench_audiences")
    args = parser.parse_args()

    _common.prepare_database(args.server, args.db, keep=False)
    _common.configure_environment(args.server, args.db)
    _common.setup_django(migrate=True)
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.contacts import lists, segments
    from apps.contacts.audiences import segment_contacts
    from apps.contacts.models import Contact
    from apps.conversations.contact_erasure import contact_erase
    from apps.conversations.contact_merge import contact_merge
    from apps.inboxes.services import inbox_create

    try:
        company = _common.bench_company("audiences")
        started = time.perf_counter()
        populate(company, args.contacts)
        say(f"company {company.slug}: {args.contacts} contacts in {time.perf_counter() - started:.1f} s")
        _common.check_machine_idle()
        pct = _common.percentile
        with schema_context(company.schema_name):
            admin = User.objects.get(role="admin")
            ids = list(Contact.objects.order_by("?").values_list("pk", flat=True)[:10_000])
            contact_list = lists.contact_list_create(actor=admin, name="Ten thousand")
            (first,), added = timed(lambda: lists.contact_list_add_members(
                actor=admin, contact_list=contact_list, contact_ids=ids))
            (again,), added_again = timed(lambda: lists.contact_list_add_members(
                actor=admin, contact_list=contact_list, contact_ids=ids))
            say(f"add 10,000 members in one call: {first:.0f} ms ({added} added); "
                f"again, all already in: {again:.0f} ms ({added_again} added)")
            for n in range(9):
                small = lists.contact_list_create(actor=admin, name=f"List {n}")
                lists.contact_list_add_members(actor=admin, contact_list=small,
                                               contact_ids=ids[: 1000 * (n + 1)])
            times, _rows = timed(
                lambda: list(lists.contact_lists_visible_to(admin).order_by("-id")[:25]), args.runs)
            say(f"lists page (10 lists, 55,000 memberships, member counts): p50 {pct(times, 50):.1f} ms, "
                f"p95 {pct(times, 95):.1f} ms")
            say("")
            say(f"{'segment filters':<55} {'count':>7} {'count p50':>10} {'p95':>8} {'page p50':>9}")
            for filters in ({"tags": ["vip"]}, {"tags": ["vip", "sp"], "lead_status": "qualified"},
                            {"custom_fields": {"plan": "gold"}, "lead_status": "customer"},
                            {"q": "joão"}, {}):
                segment = segments.segment_create(actor=admin, name=f"S {filters}"[:100], filters=filters)
                count_times, count = timed(lambda s=segment: segments.segment_count(s), args.runs)
                page_times, _ = timed(
                    lambda s=segment: list(segment_contacts(s).order_by("-id")[:25]), args.runs)
                say(f"{str(filters):<55} {count:>7} {pct(count_times, 50):>7.1f} ms "
                    f"{pct(count_times, 95):>5.1f} ms {pct(page_times, 50):>6.1f} ms")
            say("")
            inbox = inbox_create(actor=None, name="Bench", provider="sandbox", credentials={})
            kept, other, erased = Contact.objects.order_by("pk")[:3]
            for contact in (kept, other):
                conversations_for(company, contact, inbox, count=20, messages=5)
            conversations_for(company, erased, inbox, count=20, messages=100)
            (merge_ms,), _ = timed(lambda: contact_merge(actor=admin, contact_id=kept.pk, other_id=other.pk))
            say(f"merge (20 conversations move, 2 lists each): {merge_ms:.0f} ms")
            (erase_ms,), _ = timed(lambda: contact_erase(actor=admin, contact_id=erased.pk))
            say(f"erasure (20 conversations, 2,000 messages, webhook store scanned): {erase_ms:.0f} ms")
    finally:
        _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
