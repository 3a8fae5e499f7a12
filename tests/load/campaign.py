"""Benchmark: campaigns — materialisation, sustained send rate, and a noisy neighbour's reply latency.

    .venv/bin/python tests/load/campaign.py [--contacts 100000] [--rates 80,500] [--seconds 20]
        [--neighbour-seconds 30] [--threads 4] [--keep] [--keep-logs]

In a throwaway database `conversa_bench_campaign`:

1. Materialisation: company A (plan enterprise) gets `--contacts` contacts carrying one tag (bulk
   inserted, 1 % opted out); a campaign to that tag is created with `campaign_create` and its
   recipients materialised with `recipients_materialize` (one INSERT … SELECT). Prints its time
   (target < 10 s at 100,000) and the cost of one `campaign_stats` count (what every progress frame
   reads).
2. Sustained rate: for each rate in `--rates`, a Meta inbox of A with that rate, pointed at the fake
   Meta API (tests/fakes/provider_server.py, in this process), and a campaign to the whole audience
   started with `campaign_start`; a real Huey consumer (`--threads` threads) sends it. After
   `--seconds` the campaign is cancelled. Prints the sends per second the fake saw in the steady
   part (first send + 1 s to the last), as a share of the configured rate, and the most sends the
   fake saw in any one-second window (must never exceed the rate).
3. Noisy neighbour: while A sends a campaign to all its contacts at the highest rate, company B's
   agent replies through the API (a live uvicorn) twice a second for `--neighbour-seconds`; latency
   = arrival at the fake − the API call's start. Prints p50/p95/max (target p95 < 1 s).
"""

import argparse
import os
import sys
import threading
import time
import uuid

import _common
from _common import say

A_PHONE_ID, B_PHONE_ID, TOKEN = "111000111", "222000222", "bench-meta-token"


def _contacts(company, count: int, tag: str) -> float:
    from django.db import connection
    from django_tenants.utils import schema_context

    started = time.perf_counter()
    with schema_context(company.schema_name), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (name, phone, email, avatar_url, language, time_zone, lead_status,"
            " lead_score, tags, custom_fields, notes, opted_out, blocked, company_name, city, country,"
            " created_at, updated_at)"
            " SELECT 'Client ' || g, '+5511' || lpad(g::text, 9, '0'), '', '', '', '', 'new', 0,"
            " ARRAY[%s]::varchar[], '{}'::jsonb, '', g %% 100 = 0, false, '', '', '', now(), now()"
            " FROM generate_series(1, %s) AS g",
            [tag, count],
        )
    return time.perf_counter() - started


def _inbox(company, fake, *, phone_id: str, rate: int):
    from django_tenants.utils import schema_context

    from apps.inboxes.services import inbox_create

    with schema_context(company.schema_name):
        return inbox_create(actor=None, name=f"WhatsApp {uuid.uuid4().hex[:4]}",
                            provider="whatsapp_cloud", rate_limit_per_second=rate, credentials={
                                "phone_number_id": phone_id, "business_account_id": "bench-waba",
                                "access_token": TOKEN, "app_secret": "bench-secret",
                                "graph_base_url": fake.url})


def _campaign(company, inbox, tag: str):
    from django_tenants.utils import schema_context

    from apps.campaigns.services import campaign_create

    with schema_context(company.schema_name):
        return campaign_create(actor=None, name=f"Bench {uuid.uuid4().hex[:4]}", inbox_id=inbox.pk,
                               audience={"tags": [tag]}, message={"text": "Hi {{contact.first_name}}!"})


def _act(company, campaign, action: str):
    from django.db import transaction
    from django_tenants.utils import schema_context

    from apps.campaigns import services

    with schema_context(company.schema_name), transaction.atomic():
        getattr(services, f"campaign_{action}")(actor=None, campaign=campaign)


def _materialise(company, tag: str) -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.campaigns.materialize import recipients_materialize
    from apps.campaigns.selectors import campaign_stats

    campaign = _campaign(company, _inbox(company, _FakeUrl(), phone_id=A_PHONE_ID, rate=80), tag)
    with schema_context(company.schema_name):
        started = time.perf_counter()
        inserted = recipients_materialize(campaign_id=campaign.pk)
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE campaigns_campaignrecipient")
        counts = []
        for _ in range(5):
            started = time.perf_counter()
            stats = campaign_stats(campaign.pk)
            counts.append((time.perf_counter() - started) * 1000)
    verdict = "PASS" if seconds < 10 else "FAIL"
    say(f"materialisation: {inserted} recipients ({stats['skipped']} skipped as opted out) in "
        f"{seconds:.2f} s (target < 10 s: {verdict})")
    say(f"  one progress count (campaign_stats, grouped) at {inserted}: median "
        f"{_common.median(counts):.1f} ms")


class _FakeUrl:
    url = "http://127.0.0.1:9"


def _sends(fake, phone_id: str) -> list[float]:
    return sorted(r.time for r in fake.accepted if f"/{phone_id}/" in r.path)


def _rate(company, fake, tag: str, rate: int, seconds: float, stack) -> None:
    from django_tenants.utils import schema_context

    phone_id = f"9{rate:05d}{uuid.uuid4().int % 1000:03d}"
    fake.register_meta(phone_id, TOKEN)
    inbox = _inbox(company, fake, phone_id=phone_id, rate=rate)
    campaign = _campaign(company, inbox, tag)
    cpu_before, busy_before, wall_before = stack.cpu("huey"), _common.machine_busy_seconds(), time.time()
    _act(company, campaign, "start")
    time.sleep(seconds)
    _act(company, campaign, "cancel")
    time.sleep(1.0)
    huey_cpu, wall = stack.cpu("huey") - cpu_before, time.time() - wall_before
    busy = _common.machine_busy_seconds() - busy_before
    times = _sends(fake, phone_id)
    if len(times) < 2:
        say(f"rate {rate}/s: only {len(times)} sends arrived — is the worker running?")
        return
    steady = [t for t in times if t >= times[0] + 1.0]
    sustained = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    most = fake.max_in_window(1.0, where=lambda r: f"/{phone_id}/" in r.path)
    share = sustained / rate * 100
    with schema_context(company.schema_name):
        from apps.campaigns.models import CampaignRecipient
        sent = CampaignRecipient.objects.filter(campaign=campaign, status="sent").count()
    say(f"rate {rate}/s configured: {len(times)} sends in {times[-1] - times[0]:.1f} s; sustained "
        f"{sustained:.1f}/s = {share:.1f} % of the rate "
        f"(target ≥ 95 %: {'PASS' if share >= 95 else 'FAIL'}); "
        f"most in any 1 s window: {most} (never above {rate}: {'PASS' if most <= rate else 'FAIL'}); "
        f"recipients marked sent: {sent}")
    per_send = huey_cpu / max(1, len(times)) * 1000
    say(f"  CPU: the worker {huey_cpu:.1f} s ({per_send:.2f} ms per send); machine busy "
        f"{busy:.1f} of {wall * (os.cpu_count() or 1):.1f} CPU-s available")


def _neighbour(company_a, company_b, fake, tag: str, rate: int, seconds: float, stack) -> None:
    import httpx
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.conversations.inbound import message_receive
    from tests.fixtures.messaging import inbound

    phone_a = f"8{rate:05d}{uuid.uuid4().int % 1000:03d}"
    fake.register_meta(phone_a, TOKEN)
    fake.register_meta(B_PHONE_ID, TOKEN)
    inbox_a = _inbox(company_a, fake, phone_id=phone_a, rate=rate)
    inbox_b = _inbox(company_b, fake, phone_id=B_PHONE_ID, rate=80)
    with schema_context(company_b.schema_name):
        message = message_receive(inbox=inbox_b, inbound=inbound(phone="+5521999990000", text="Hi"))
        admin = User.objects.get(email=f"admin@{company_b.slug}.example.com")
    token = _common.access_token(company_b, admin)
    host = f"{company_b.slug}.localhost"
    client = httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", headers={
        "Host": host, "Authorization": f"Bearer {token}"}, timeout=10)
    campaign = _campaign(company_a, inbox_a, tag)
    _act(company_a, campaign, "start")
    time.sleep(2.0)  # sending at full rate
    latencies, asked = [], []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        text = f"reply {i} {uuid.uuid4().hex[:6]}"
        started = time.time()
        response = client.post(f"/api/v1/conversations/{message.conversation_id}/messages",
                               json={"text": text})
        if response.status_code != 201:
            say(f"  reply refused: {response.status_code} {response.text[:200]}")
        asked.append((started, text))
        i += 1
        time.sleep(0.5)
    time.sleep(3.0)
    _act(company_a, campaign, "cancel")
    arrived = {r.json["text"]["body"]: r.time for r in fake.accepted
               if f"/{B_PHONE_ID}/" in r.path and r.json and r.json.get("type") == "text"}
    for started, text in asked:
        if text in arrived:
            latencies.append((arrived[text] - started) * 1000)
    a_sends = _sends(fake, phone_a)
    a_rate = (len(a_sends) - 1) / (a_sends[-1] - a_sends[0]) if len(a_sends) > 1 else 0
    say(f"noisy neighbour: company A sent {len(a_sends)} campaign messages at {a_rate:.0f}/s "
        f"(configured {rate}/s) meanwhile")
    if latencies:
        p95 = _common.percentile(latencies, 95)
        say(f"  company B's agent replies, API call → at the provider: {len(latencies)} of {len(asked)} "
            f"arrived; {_common.summary(latencies)} "
            f"(target p95 < 1000 ms: {'PASS' if p95 < 1000 else 'FAIL'})")
    else:
        say(f"  none of company B's {len(asked)} replies arrived")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rates", default="80,500", help="comma-separated send rates to measure")
    parser.add_argument("--seconds", type=float, default=20, help="seconds of sending per rate")
    parser.add_argument("--neighbour-seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=4, help="threads of the Huey consumer")
    parser.add_argument("--keep-logs", action="store_true")
    _common.add_db_arguments(parser, default_db="conversa_bench_campaign")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",") if r.strip()]

    _common.install_signal_handlers()
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    tag = _common.live_environment()
    migrate_s = _common.setup_django(migrate=True)
    say(f"database {args.db} ({'new' if fresh else 'kept'}); migrate_schemas took {migrate_s:.1f} s")
    stack, failed = None, True
    from tests.fakes.provider_server import FakeProviderServer

    fake = FakeProviderServer().start()
    try:
        company_a = _common.bench_company("ca")
        company_b = _common.bench_company("cb")
        audience = f"bench{uuid.uuid4().hex[:6]}"
        seconds = _contacts(company_a, args.contacts, audience)
        say(f"company {company_a.slug}: {args.contacts} contacts inserted in {seconds:.1f} s (set-up)")
        _materialise(company_a, audience)

        stack = _common.LiveStack()
        stack.start_server()
        stack.start_worker(threads=args.threads)
        time.sleep(4)
        stack.check_alive()
        for rate in rates:
            _rate(company_a, fake, audience, rate, args.seconds, stack)
        _neighbour(company_a, company_b, fake, audience, max(rates), args.neighbour_seconds, stack)
        stack.check_alive()
        failed = False
    finally:
        fake.stop()
        if stack is not None:
            stack.close(keep_logs=failed or args.keep_logs)
        _common.flush_redis(tag)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
