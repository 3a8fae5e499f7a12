"""Monthly usage counters stay exact under concurrent increments."""

import datetime as dt
import threading
import time
import uuid

import pytest
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import MonthlyUsage
from tenants.usage import usage_for_month, usage_increment
from tests.fixtures.waiting import backends_waiting_on_locks, eventually, waiting_on_a_lock


def test_concurrent_increments_are_never_lost(live_db, make_live_company):
    company = make_live_company()
    barrier = threading.Barrier(10)

    def send_many():
        barrier.wait()
        try:
            for _ in range(25):
                usage_increment(schema_name=company.schema_name, counter="outbound_messages")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send_many) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert usage_for_month(company_id=company.pk)["outbound_messages"] == 250


@pytest.mark.django_db
def test_counters_are_per_calendar_month(alpha):
    january = dt.datetime(2026, 1, 31, 23, 59, tzinfo=dt.UTC)
    february = dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC)
    usage_increment(schema_name=alpha.schema_name, counter="storage_bytes", amount=1000, at=january)
    usage_increment(schema_name=alpha.schema_name, counter="storage_bytes", amount=5, at=february)
    assert usage_for_month(company_id=alpha.pk, at=january)["storage_bytes"] == 1000
    assert usage_for_month(company_id=alpha.pk, at=february) == {"outbound_messages": 0, "storage_bytes": 5}


@pytest.mark.django_db
def test_unknown_counters_are_a_programming_error(alpha):
    with pytest.raises(ValueError):
        usage_increment(schema_name=alpha.schema_name, counter="anything")


# --- no lock cycle between an upload and the worker's counters -----------------------------------

def _backend_pid() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _upload_as_admin(company, results: dict, data: bytes) -> None:
    """The real upload door (API, middleware, service), in this thread's own connection."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from tests.conftest import host_of
    from tests.fixtures.factories import PASSWORD

    try:
        client = Client(HTTP_HOST=host_of(company), raise_request_exception=False)
        login = client.post("/api/v1/auth/login", {
            "email": f"admin@{company.slug}.example.com", "password": PASSWORD,
        }, content_type="application/json")
        token = login.json()["access"]
        results["upload_pid"] = _backend_pid()
        results["upload"] = client.post(
            "/api/v1/media", {"file": SimpleUploadedFile("notes.txt", data, content_type="text/plain")},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        connections.close_all()


def _count_a_send(company, results: dict) -> None:
    """What the worker does when a message has gone out: its counter in the send's transaction."""
    try:
        results["worker_pid"] = _backend_pid()
        with transaction.atomic():
            usage_increment(schema_name=company.schema_name, counter="outbound_messages")
        results["worker"] = "ok"
    except Exception as exc:  # reported to the test's thread
        results["worker"] = exc
    finally:
        connections.close_all()


def _upload_held_by(gate, company, results: dict, data: bytes) -> threading.Thread:
    """An upload started in its own thread and held by `gate`'s lock on the media table, i.e. after
    it took the company's row lock and before it inserts the file's row."""
    with gate.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(f'LOCK TABLE "{company.schema_name}".media_mediafile IN SHARE MODE')
    upload = threading.Thread(target=_upload_as_admin, args=(company, results, data))
    upload.start()
    assert eventually(lambda: "upload_pid" in results and waiting_on_a_lock(results["upload_pid"]))
    return upload


def test_an_upload_and_a_counted_send_on_a_new_month_row_never_deadlock(make_live_company, queue_to_redis):
    # Given a company whose month row does not exist yet (the first counter of the month inserts it),
    company = make_live_company()
    MonthlyUsage.objects.filter(company=company).delete()
    data = b"quarterly numbers\n" * 100
    results: dict = {}
    gate = connections.create_connection("default")
    try:
        # and an upload held (by a gate on its media table) after it took the company's row lock,
        upload = _upload_held_by(gate, company, results, data)
        # when the worker counts a sent message meanwhile (it waits, or is done, but holds no cycle)
        worker = threading.Thread(target=_count_a_send, args=(company, results))
        worker.start()
        eventually(lambda: "worker" in results
                    or ("worker_pid" in results and waiting_on_a_lock(results["worker_pid"])))
        # and the upload goes on only after PostgreSQL's deadlock_timeout (1 s): whichever waited
        # longest would be the victim of a cycle, as the upload was in production.
        time.sleep(1.5)
    finally:
        with gate.cursor() as cursor:
            cursor.execute("COMMIT")
        gate.close()
    upload.join(30)
    worker.join(30)

    # then both are done and counted, and the user got the file accepted, not a 500.
    assert results["worker"] == "ok"
    assert results["upload"].status_code == 201, results["upload"].content
    assert usage_for_month(company_id=company.pk) == {"outbound_messages": 1, "storage_bytes": len(data)}


def test_an_upload_chosen_as_deadlock_victim_is_retried_not_answered_500(make_live_company, queue_to_redis):
    from django.core.files.storage import default_storage

    from apps.media.models import MediaFile

    # Given an upload held (by a gate on its media table) while it holds the company's row lock,
    company = make_live_company()
    data = b"minutes of the meeting\n" * 100
    results: dict = {}
    gate = connections.create_connection("default")
    gate.inc_thread_sharing()  # its second statement waits in a thread of its own
    gate_done = threading.Event()

    def gate_takes_the_company():
        with gate.cursor() as cursor:
            cursor.execute("SELECT id FROM public.tenants_company WHERE id = %s FOR UPDATE", [company.pk])
        gate_done.set()

    try:
        upload = _upload_held_by(gate, company, results, data)
        # when the gate then waits for the company row: a cycle, and the upload (waiting longer,
        # its deadlock_timeout ends first) is the one PostgreSQL aborts,
        locker = threading.Thread(target=gate_takes_the_company)
        locker.start()
        assert gate_done.wait(10), "the deadlock was not broken"
    finally:
        with gate.cursor() as cursor:
            cursor.execute("COMMIT")
        locker.join(10)
        gate.dec_thread_sharing()
        gate.close()
    upload.join(30)

    # then the upload was done again and accepted, counted once, with one file kept.
    assert results["upload"].status_code == 201, results["upload"].content
    assert usage_for_month(company_id=company.pk)["storage_bytes"] == len(data)
    with schema_context(company.schema_name):
        assert MediaFile.objects.count() == 1
    month_dir = f"tenants/{company.schema_name}/media/{timezone.now():%Y/%m}"
    assert len(default_storage.listdir(month_dir)[0]) == 1


# --- the monthly outbound quota under concurrent sends ----------------------------------------------

def _send_as_admin(company, token: str, conversation_id: int, results: list, text: str) -> None:
    from django.test import Client

    from tests.conftest import host_of

    try:
        client = Client(HTTP_HOST=host_of(company), raise_request_exception=False)
        results.append(client.post(
            f"/api/v1/conversations/{conversation_id}/messages", {"text": text},
            content_type="application/json", headers={"Authorization": f"Bearer {token}"},
        ))
    finally:
        connections.close_all()


def test_two_concurrent_sends_at_the_monthly_limit_let_exactly_one_through(
    make_live_company, queue_to_redis, api,
):
    from tenants.models import Company, Plan

    # Given a company one message short of its plan's monthly outbound limit,
    plan = Plan.objects.create(
        code=f"tiny-{uuid.uuid4().hex[:8]}", name="Tiny", max_monthly_outbound_messages=3,
    )
    company = make_live_company()
    Company.objects.filter(pk=company.pk).update(plan=plan)
    try:
        _race_two_sends(company, api)
    finally:
        Company.objects.filter(pk=company.pk).update(plan=Plan.objects.get(code="pro"))
        plan.delete()


def _race_two_sends(company, api):
    from apps.conversations.models import Message
    from tests.fixtures.messaging import make_inbox, receive

    usage_increment(schema_name=company.schema_name, counter="outbound_messages", amount=2)
    inbox = make_inbox(company)
    conversation_id = receive(company, inbox).conversation_id
    token = api(company).login(f"admin@{company.slug}.example.com")["access"]
    results: list = []
    # and both sends reaching the conversation's row lock together (a gate holds it),
    gate = connections.create_connection("default")
    try:
        with gate.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f'SET LOCAL search_path TO "{company.schema_name}"')
            cursor.execute("SELECT id FROM conversations_conversation WHERE id = %s FOR UPDATE",
                           [conversation_id])
        senders = [
            threading.Thread(target=_send_as_admin, args=(company, token, conversation_id, results, text))
            for text in ("first", "second")
        ]
        for sender in senders:
            sender.start()
        assert eventually(lambda: backends_waiting_on_locks() >= 2 or len(results) == 2)
    finally:
        with gate.cursor() as cursor:
            cursor.execute("COMMIT")
        gate.close()
    for sender in senders:
        sender.join(30)

    # then one is queued and the other refused with the plan's limit,
    assert sorted(response.status_code for response in results) == [201, 403], [r.content for r in results]
    refused = next(response for response in results if response.status_code == 403).json()["error"]
    assert refused["code"] == "plan_limit_reached"
    assert refused["details"]["limit"] == 3 and refused["details"]["used"] == 3
    # and only one message was written.
    with schema_context(company.schema_name):
        assert Message.objects.filter(conversation_id=conversation_id, direction="outbound").count() == 1
