"""Behind PgBouncer in transaction pooling mode, one company's statements never run in another's schema.

Two clients configured like Django's (our backend, the project's settings) go through a real
PgBouncer whose pool for their database has ONE server connection, so every statement of both runs
on the same server connection, one transaction at a time, as it would under load in production.
"""

import copy
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from django.db import NotSupportedError, connection

from conversa.postgresql_backend.base import DatabaseWrapper
from tests.conftest import REUSE_DATABASE_ENV
from tests.fixtures.pgbouncer import ADDRESS_ENV, start_pgbouncer
from tests.fixtures.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
ONE_SERVER_CONNECTION = "conversa_one_server_connection"


@pytest.fixture(scope="module")
def pgbouncer(django_db_setup):
    db = connection.settings_dict
    server = start_pgbouncer(
        postgres_host=db["HOST"] or "127.0.0.1", postgres_port=int(db["PORT"] or 5432),
        databases={ONE_SERVER_CONNECTION: f"dbname={db['NAME']} pool_size=1"},
    )
    yield server
    server.stop()


def client(pgbouncer, company, *, transaction_pooling: bool) -> DatabaseWrapper:
    """A database connection as Django makes it, through PgBouncer, in `company`'s schema."""
    settings = copy.deepcopy(connection.settings_dict)
    settings.update(HOST="127.0.0.1", PORT=pgbouncer.port, NAME=ONE_SERVER_CONNECTION,
                    TRANSACTION_POOLING=transaction_pooling)
    settings["OPTIONS"].pop("pool", None)  # one client connection each, opened here
    wrapper = DatabaseWrapper(settings, alias=f"pgbouncer-{company.schema_name}")
    wrapper.set_tenant(company)
    return wrapper


def admin_emails(wrapper: DatabaseWrapper) -> set[str]:
    """The admins' addresses this client sees in `accounts_user` (each company has its own table)."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT email FROM accounts_user WHERE email LIKE %s", ["admin@%"])
        return {email for (email,) in cursor.fetchall()}


def in_transaction(wrapper: DatabaseWrapper, work):
    wrapper.set_autocommit(False)
    try:
        return work(wrapper)
    finally:
        wrapper.commit()
        wrapper.set_autocommit(True)


def backend_pid(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def interleave(pgbouncer, alpha, bravo, *, transaction_pooling: bool) -> dict:
    """Alpha's and bravo's clients take turns, in autocommit and in transactions; what each saw."""
    a = client(pgbouncer, alpha, transaction_pooling=transaction_pooling)
    b = client(pgbouncer, bravo, transaction_pooling=transaction_pooling)
    seen = {"alpha": [], "bravo": [], "pids": set()}
    try:
        for _ in range(2):
            seen["alpha"].append(admin_emails(a))
            seen["bravo"].append(admin_emails(b))
        seen["alpha"].append(in_transaction(a, admin_emails))
        seen["bravo"].append(in_transaction(b, admin_emails))
        seen["alpha"].append(admin_emails(a))
        seen["bravo"].append(in_transaction(b, admin_emails))
        seen["alpha"].append(in_transaction(a, admin_emails))
        seen["pids"] = {backend_pid(a), backend_pid(b)}
    finally:
        a.close()
        b.close()
    return seen


def other_client(pgbouncer, statement: str) -> str:
    """Another client of the same pool (psql, a report tool): the first column its statement returns."""
    with psycopg.connect(host="127.0.0.1", port=pgbouncer.port, dbname=ONE_SERVER_CONNECTION,
                         user="postgres", autocommit=True) as plain:
        cursor = plain.execute(statement)
        return cursor.fetchone()[0] if cursor.description else cursor.statusmessage


def test_plain_django_tenants_leaks_a_schema_between_companies_through_transaction_pooling(
    pgbouncer, alpha, bravo, live_db,
):
    """The hazard, shown on this very setup: django-tenants' session-level SET search_path, issued
    once per connection, is left on the shared server connection for the next client."""
    seen = interleave(pgbouncer, alpha, bravo, transaction_pooling=False)

    assert len(seen["pids"]) == 1  # both clients were served by one server connection
    assert {"admin@bravo.example.com"} in seen["alpha"]  # alpha's client read bravo's users
    assert other_client(pgbouncer, "SHOW search_path") == f"{bravo.schema_name}, public"


def test_with_transaction_pooling_each_company_sees_only_its_own_rows(pgbouncer, alpha, bravo, live_db):
    # The worst start: the shared server connection's session is in bravo's schema (as a client
    # of the plain backend, or psql, would leave it).
    other_client(pgbouncer, f'SET search_path TO "{bravo.schema_name}"')

    seen = interleave(pgbouncer, alpha, bravo, transaction_pooling=True)

    assert len(seen["pids"]) == 1
    assert seen["alpha"] == [{"admin@alpha.example.com"}] * len(seen["alpha"])
    assert seen["bravo"] == [{"admin@bravo.example.com"}] * len(seen["bravo"])
    # The session was not touched: nothing of alpha's is left for other clients.
    assert other_client(pgbouncer, "SHOW search_path") == bravo.schema_name


def test_with_transaction_pooling_concurrent_clients_stay_in_their_schema(pgbouncer, alpha, bravo, live_db):
    """Two threads, one per company, query as fast as they can over the one server connection."""
    wrong: list = []

    def work(company):
        wrapper = client(pgbouncer, company, transaction_pooling=True)
        expected = {f"admin@{company.schema_name}.example.com"}
        try:
            for round_number in range(60):
                in_a_transaction = round_number % 3 == 0
                seen = in_transaction(wrapper, admin_emails) if in_a_transaction else admin_emails(wrapper)
                if seen != expected:
                    wrong.append((company.schema_name, seen))
        finally:
            wrapper.close()

    threads = [threading.Thread(target=work, args=(company,)) for company in (alpha, bravo)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert wrong == []


# A few isolation tests per door, run in a pytest of their own whose every database connection
# (its live server's and worker's too) goes through the PgBouncer: the API and sign-in through the
# middleware stack, websockets on a live uvicorn, tasks in a real Huey consumer and inline.
ISOLATION_TESTS_BY_DOOR = [
    "tests/contacts/test_isolation.py",
    # All of the sign-in isolation but the same-id test, which in the reused database (the main
    # run's committed users) hashes dozens of passwords to catch up ids: 25 s for nothing new here.
    "tests/accounts/test_auth_isolation.py::test_a_user_logs_in_on_their_own_host_only",
    "tests/accounts/test_auth_isolation.py::test_tokens_of_one_company_are_refused_on_another",
    "tests/accounts/test_auth_isolation.py::test_an_api_key_works_only_on_its_own_host",
    "tests/accounts/test_auth_isolation.py::test_an_unknown_host_is_404_not_another_company",
    "tests/accounts/test_auth_isolation.py::test_tenant_users_cannot_use_the_platform_api_and_vice_versa",
    "tests/realtime/test_websocket_live.py::test_each_company_receives_only_its_own_events",
    "tests/realtime/test_websocket_live.py::test_a_token_of_another_company_is_closed_with_4401",
    "tests/conversa/test_tenant_tasks_live.py::test_a_task_writes_into_the_schema_it_was_given",
    "tests/campaigns/test_isolation.py::test_tasks_run_in_their_own_schema_only",
]
ISOLATION_TEST_COUNT = 13


def queries_per_test_database(pgbouncer) -> dict[str, int]:
    """PgBouncer's own count of the queries it passed on, per database (its admin console)."""
    with psycopg.connect(host="127.0.0.1", port=pgbouncer.port, dbname="pgbouncer", user="postgres",
                         autocommit=True, prepare_threshold=None) as admin:
        cursor = admin.cursor(row_factory=psycopg.rows.dict_row)
        rows = cursor.execute("SHOW STATS").fetchall()
    return {row["database"]: row["total_query_count"] for row in rows if row["database"].startswith("test_")}


@pytest.mark.live
@pytest.mark.timeout(300)  # a pytest of its own, with its live server
def test_the_isolation_tests_pass_through_pgbouncer_in_transaction_mode(pgbouncer, companies, tmp_path):
    # This session's database and companies (made once: a run of its own would spend most of its
    # time making them again), reached through the PgBouncer only.
    database = connection.settings_dict["NAME"]
    env = {**os.environ, ADDRESS_ENV: pgbouncer.address, REUSE_DATABASE_ENV: "1",
           "DATABASE_URL": f"postgres://postgres@{pgbouncer.address}/{database}"}
    before = queries_per_test_database(pgbouncer).get(database, 0)

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "run"),
         "--durations=5", *ISOLATION_TESTS_BY_DOOR],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert f"{ISOLATION_TEST_COUNT} passed" in run.stdout, run.stdout[-3000:]
    # Its traffic went through this PgBouncer (which this process's own connection does not use).
    assert eventually(lambda: queries_per_test_database(pgbouncer).get(database, 0) - before > 100,
                      timeout=5, step=0.25)


def test_with_transaction_pooling_chunked_reads_stay_in_the_schema(pgbouncer, alpha, bravo, live_db):
    """`.iterator()`: a server-side cursor inside a transaction (its DECLARE after a SET LOCAL of its
    own), all rows at once outside one; either way, each company's rows only."""
    a = client(pgbouncer, alpha, transaction_pooling=True)
    b = client(pgbouncer, bravo, transaction_pooling=True)

    def chunked(wrapper):
        cursor = wrapper.chunked_cursor()
        try:
            cursor.execute("SELECT email FROM accounts_user WHERE email LIKE %s", ["admin@%"])
            return {email for (email,) in cursor.fetchmany(100)}
        finally:
            cursor.close()

    try:
        other_client(pgbouncer, f'SET search_path TO "{bravo.schema_name}"')
        seen_by_alpha = [in_transaction(a, chunked), chunked(a)]
        seen_by_bravo = [chunked(b), in_transaction(b, chunked)]
        seen_by_alpha.append(in_transaction(a, chunked))
    finally:
        a.close()
        b.close()

    assert seen_by_alpha == [{"admin@alpha.example.com"}] * 3
    assert seen_by_bravo == [{"admin@bravo.example.com"}] * 2


def test_with_transaction_pooling_batches_run_in_the_schema(pgbouncer, alpha, bravo, live_db):
    """executemany (psycopg may pipeline it, one statement per message): a SET LOCAL of its own
    first, in a transaction that holds the server connection for the whole batch."""
    a = client(pgbouncer, alpha, transaction_pooling=True)
    touch = "UPDATE accounts_user SET email = email WHERE email = %s"  # changes nothing, counts matches
    batch = [["admin@alpha.example.com"], ["admin@alpha.example.com"]]

    def matched(wrapper):
        with wrapper.cursor() as cursor:
            cursor.executemany(touch, batch)
            return cursor.rowcount

    try:
        other_client(pgbouncer, f'SET search_path TO "{bravo.schema_name}"')
        assert matched(a) == 2  # in bravo's schema it would match none
        assert in_transaction(a, matched) == 2
    finally:
        a.close()


def test_with_transaction_pooling_a_statement_that_cannot_carry_the_schema_is_refused(
    pgbouncer, alpha, live_db,
):
    a = client(pgbouncer, alpha, transaction_pooling=True)
    try:
        with pytest.raises(NotSupportedError), a.cursor() as cursor:
            cursor.execute("CREATE INDEX CONCURRENTLY never_made ON accounts_user (email)")
    finally:
        a.close()


def test_with_transaction_pooling_logged_statements_read_as_written(pgbouncer, alpha, live_db):
    a = client(pgbouncer, alpha, transaction_pooling=True)
    a.force_debug_cursor = True
    try:
        admin_emails(a)
    finally:
        a.close()

    assert a.queries[-1]["sql"] == "SELECT email FROM accounts_user WHERE email LIKE 'admin@%'"
