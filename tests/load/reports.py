"""Benchmark: reports at size, read from the rollups (issue 16, acceptance 2).

    .venv/bin/python tests/load/reports.py [--conversations 100000] [--messages 1000000]
        [--runs 60] [--keep]

In a throwaway database `conversa_bench_reports`: one company (plan enterprise) with 4 teams in
two time zones (São Paulo and New York business hours, SLA targets), 60 agents and 2 supervisors,
3 inboxes, `--conversations` conversations over the last 365 days (most answered and closed, some
late, outcomes and CSAT) and `--messages` messages among them, all generated in SQL
(`generate_series`). The rollups are then built by `manage.py rebuild_reports` (timed: the backfill)
and the incremental path is timed on batches of new messages and conversation events as the
drain delivers them.

Measured through the full middleware stack (Django's test client with an access token, the tenant's
Host): `GET /api/v1/reports/summary`, `/agents`, `/trends?interval=day` over the last 30 days and
over 365 days, `/trends?interval=hour` over 7 days, and `/live`, as an admin and as a supervisor
(two teams). Targets: p95 < 200 ms (summary, agents, trends), < 100 ms (live).

With `--keep` the database stays; a later run with `--keep` finds its company and only measures the
requests again (e.g. when the machine is quieter).
"""

import argparse
import os
import time

import _common
from _common import say

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
TEAMS = (
    ("Vendas SP", "America/Sao_Paulo", "09:00", "18:00"),
    ("Suporte SP", "America/Sao_Paulo", "08:00", "20:00"),
    ("Support NY", "America/New_York", "09:00", "17:00"),
    ("Billing NY", "America/New_York", "09:00", "17:00"),
)


def _people(company, agents: int):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.inboxes.services import inbox_create
    from apps.teams.models import Team, TeamMember

    with schema_context(company.schema_name):
        teams = [Team.objects.create(
            name=name, routing="manual", sla_first_response_seconds=1800, sla_resolution_seconds=4 * 3600,
            business_hours={"timezone": zone, "days": dict.fromkeys(WEEKDAYS, [[start, end]])},
        ) for name, zone, start, end in TEAMS]
        users = User.objects.bulk_create(
            User(email=f"agent{i}@{company.slug}.example.com", name=f"Agent {i:02d}", role="agent",
                 status=("available", "busy", "paused", "offline")[i % 4], password="!")
            for i in range(agents))
        supervisors = User.objects.bulk_create(
            User(email=f"supervisor{i}@{company.slug}.example.com", name=f"Supervisor {i}",
                 role="supervisor", password="!") for i in range(2))
        for index, user in enumerate(users):
            TeamMember.objects.create(team=teams[index % len(teams)], user=user)
        for index, supervisor in enumerate(supervisors):
            for team in teams[index * 2:index * 2 + 2]:
                TeamMember.objects.create(team=team, user=supervisor)
        inboxes = [inbox_create(actor=None, name=f"Bench {n}", provider="sandbox", credentials={},
                                default_team=teams[n]) for n in range(3)]
    return teams, users, supervisors, inboxes


def _generate(company, *, conversations: int, messages: int, teams, agents, inboxes) -> None:
    """Contacts, conversations and messages in bulk SQL: what a year of a busy company leaves."""
    from django.db import connection
    from django_tenants.utils import schema_context

    team_ids = [team.pk for team in teams]
    agent_ids = [agent.pk for agent in agents]
    inbox_ids = [inbox.pk for inbox in inboxes]
    per = max(1, messages // conversations)
    with schema_context(company.schema_name), connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO contacts_contact (name, phone, email, avatar_url, language, time_zone, lead_status,
              lead_score, tags, custom_fields, notes, opted_out, blocked, company_name, city, country,
              created_at, updated_at)
            SELECT 'Customer ' || n, '+5511' || lpad(n::text, 9, '0'), '', '', '', '', 'new', 0, '{}', '{}',
              '', false, false, '', '', '', now(), now()
            FROM generate_series(1, %(n)s) AS n
        """, {"n": conversations})
        # Opened over the last year; answered 1–600 minutes later (90%), closed 10–1440 minutes after
        # that (80%); deadlines from the team's targets in plain minutes (close enough for load).
        cursor.execute("""
            WITH c AS (
              SELECT n, now() - (random() * interval '365 days') AS opened, random() AS r1, random() AS r2,
                     (%(teams)s::bigint[])[1 + n %% %(team_count)s] AS team_id,
                     (%(agents)s::bigint[])[1 + n %% %(agent_count)s] AS agent_id,
                     (%(inboxes)s::bigint[])[1 + n %% %(inbox_count)s] AS inbox_id,
                     (SELECT min(id) FROM contacts_contact) - 1 + n AS contact_id
              FROM generate_series(1, %(n)s) AS n
            )
            INSERT INTO conversations_conversation (status, priority, labels, subject, unread_count,
              bot_context, created_at, updated_at, close_reason, outcome, csat_comment, contact_id, inbox_id,
              last_message_preview, offline_notice_period, sla_breached, team_id, assignee_id, queued_at,
              first_response_at, closed_at, first_response_due_at, resolution_due_at, csat_rating,
              outcome_value, last_message_at)
            SELECT CASE WHEN r2 < 0.8 AND r1 < 0.9 THEN 'closed' ELSE 'open' END, 'normal', '{}', '', 0, '{}',
              opened, opened, '', CASE WHEN r2 < 0.3 THEN 'sale' WHEN r2 < 0.6 THEN 'information' ELSE '' END,
              '', contact_id, inbox_id, '', '', r1 > 0.85, team_id, agent_id, opened,
              CASE WHEN r1 < 0.9 THEN opened + (1 + r1 * 600) * interval '1 minute' END,
              CASE WHEN r2 < 0.8 AND r1 < 0.9 THEN opened + (600 + r2 * 1440) * interval '1 minute' END,
              opened + interval '30 minutes', opened + interval '4 hours',
              CASE WHEN r2 < 0.5 THEN 1 + (n %% 5) END,
              CASE WHEN r2 < 0.3 THEN round((r1 * 500)::numeric, 2) END, opened
            FROM c
        """, {"n": conversations, "teams": team_ids, "team_count": len(team_ids), "agents": agent_ids,
              "agent_count": len(agent_ids), "inboxes": inbox_ids, "inbox_count": len(inbox_ids)})
        # `per` messages in each conversation, minutes apart from its opening, alternating in/out.
        cursor.execute("""
            INSERT INTO conversations_message (direction, sender_type, kind, text, template_name,
              template_language, template_variables, media_ref, media_mime, provider_message_id, send_key,
              status, error_code, error_message, attempts, created_at, conversation_id, inbox_id,
              media_filename, sender_user_id)
            SELECT CASE WHEN k %% 2 = 0 THEN 'inbound' ELSE 'outbound' END,
              CASE WHEN k %% 2 = 0 THEN 'contact' ELSE 'agent' END, 'text', 'message ' || k, '', '', '[]',
              '', '', '', gen_random_uuid(), CASE WHEN k %% 2 = 0 THEN 'received' ELSE 'read' END, '', '', 0,
              c.created_at + k * interval '3 minutes', c.id, c.inbox_id, '',
              CASE WHEN k %% 2 = 1 THEN c.assignee_id END
            FROM conversations_conversation c, generate_series(0, %(per)s - 1) AS k
        """, {"per": per})
        for table in ("contacts_contact", "conversations_conversation", "conversations_message"):
            cursor.execute(f"ANALYZE {table}")


def _incremental(company, *, batches: int, size: int) -> list[float]:
    """Milliseconds of the listeners for a drain batch of `size` new messages (and their
    conversations' events): what every webhook batch costs the rollups."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.conversations import events
    from apps.reports.listeners import reports_hear
    from conversa.events import Event

    timings = []
    with schema_context(company.schema_name):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM conversations_conversation ORDER BY random() LIMIT %s",
                           [batches * size])
            conversation_ids = [row[0] for row in cursor.fetchall()]
        for batch in range(batches):
            ids = conversation_ids[batch * size:(batch + 1) * size]
            with connection.cursor() as cursor:
                cursor.execute("""
                    INSERT INTO conversations_message (direction, sender_type, kind, text, template_name,
                      template_language, template_variables, media_ref, media_mime, provider_message_id,
                      send_key, status, error_code, error_message, attempts, created_at, conversation_id,
                      inbox_id, media_filename)
                    SELECT 'inbound', 'contact', 'text', 'new', '', '', '[]', '', '', '', gen_random_uuid(),
                      'received', '', '', 0, now(), c.id, c.inbox_id, ''
                    FROM conversations_conversation c WHERE c.id = ANY(%s) RETURNING id, conversation_id
                """, [ids])
                rows = cursor.fetchall()
            batch_events = []
            for message_id, conversation_id in rows:
                batch_events.append(Event(events.CONVERSATION_UPDATED, company.schema_name,
                                          {"conversation_id": conversation_id}))
                batch_events.append(Event(events.MESSAGE_CREATED, company.schema_name,
                                          {"message_id": message_id, "conversation_id": conversation_id}))
            started = time.perf_counter()
            reports_hear(batch_events)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _measure(client, path: str, *, runs: int, warmup: int = 3) -> list[float]:
    from django.db import connection

    for _ in range(warmup):
        client.get(path)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        connection.set_schema_to_public()
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.content[:300]!r}")
    return timings


def _build(company, args) -> None:
    import datetime as dt

    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.reports.models import MessageHour

    teams, agents, _supervisors, inboxes = _people(company, args.agents)
    started = time.perf_counter()
    _generate(company, conversations=args.conversations, messages=args.messages, teams=teams,
              agents=agents, inboxes=inboxes)
    say(f"generated {args.conversations:,} conversations and {args.messages:,} messages in "
        f"{time.perf_counter() - started:.1f} s")

    seconds, result = _common.run_manage("rebuild_reports", "--slug", company.slug)
    say(f"backfill (manage.py rebuild_reports): {seconds:.1f} s — {result.stdout.strip()}")
    with schema_context(company.schema_name):
        say(f"rollups: {MessageHour.objects.count():,} message-hour rows")
    since = (timezone.now() - dt.timedelta(days=30)).date().isoformat()
    seconds, _result = _common.run_manage("rebuild_reports", "--slug", company.slug, "--from", since)
    say(f"backfill of the last 30 days (--from {since}): {seconds:.1f} s")

    timings = _incremental(company, batches=20, size=100)
    say(f"incremental, a drain batch of 100 messages + 100 conversation events: "
        f"{_common.summary(timings)}")


def _measure_all(company, args) -> None:
    import datetime as dt

    from django.test import Client
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.accounts.models import User

    host = f"{company.slug}.localhost"
    with schema_context(company.schema_name):
        admin = User.objects.get(role="admin")
        supervisor = User.objects.filter(role="supervisor").order_by("pk").first()
    clients = {
        role: Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {_common.access_token(company, user)}")
        for role, user in (("admin", admin), ("supervisor", supervisor))
    }
    today = timezone.now().date()
    month = f"from={(today - dt.timedelta(days=29)).isoformat()}&to={today.isoformat()}"
    year = f"from={(today - dt.timedelta(days=364)).isoformat()}&to={today.isoformat()}"
    trends = "/api/v1/reports/trends?metric="
    week = f"from={(today - dt.timedelta(days=6)).isoformat()}&to={today.isoformat()}"
    paths = [
        ("summary, 30 days", f"/api/v1/reports/summary?{month}", 200),
        ("summary, 365 days", f"/api/v1/reports/summary?{year}", 200),
        ("agents, 30 days", f"/api/v1/reports/agents?{month}", 200),
        ("teams, 30 days", f"/api/v1/reports/teams?{month}", 200),
        ("trends day, 30 days", f"{trends}conversations_opened&interval=day&{month}", 200),
        ("trends day, 365 days, msgs", f"{trends}messages_in&interval=day&{year}", 200),
        ("trends hour, 7 days, median", f"{trends}first_response_median&interval=hour&{week}", 200),
        ("live", "/api/v1/reports/live", 100),
    ]
    _common.check_machine_idle()
    say(f"load average before measuring: {' '.join(f'{n:.1f}' for n in os.getloadavg())}")
    say()
    say(f"{'request':34} {'as':11} {'p50 ms':>8} {'p95 ms':>8} {'target':>7}")
    failed = []
    for role, client in clients.items():
        for label, path, target in paths:
            timings = _measure(client, path, runs=args.runs)
            p50, p95 = _common.percentile(timings, 50), _common.percentile(timings, 95)
            mark = "ok" if p95 < target else "SLOW"
            if p95 >= target:
                failed.append(f"{label} as {role}")
            say(f"{label:34} {role:11} {p50:8.1f} {p95:8.1f} {target:>5} {mark}")
    say()
    say("all within target" if not failed else f"over target: {', '.join(failed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--runs", type=int, default=60)
    _common.add_db_arguments(parser, default_db="conversa_bench_reports")
    args = parser.parse_args()

    # --keep reuses a kept database's company as it is: only the requests are measured again.
    fresh = _common.prepare_database(args.server, args.db, keep=args.keep)
    _common.configure_environment(args.server, args.db)
    _common.setup_django(migrate=fresh)
    from tenants.models import Company

    try:
        company = None if fresh else Company.objects.filter(slug__startswith="reports").first()
        if company is None:
            _build(company := _common.bench_company("reports"), args)
        else:
            say(f"measuring the kept company {company.slug} again")
        _measure_all(company, args)
    finally:
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
