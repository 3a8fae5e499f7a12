"""The webhook drain: a burst of webhooks costs a few tasks, every event is processed once, in order."""

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.conversations.drain import drain_lock_key, process_fresh_events, webhook_events_drain
from apps.conversations.models import Message
from apps.inboxes.intake import drain_flag_key, webhook_receive
from apps.inboxes.models import WebhookEvent
from conversa.events import delivered_together
from conversa.redis import get_redis
from tests.fixtures.messaging import make_inbox, new_phone, receive

pytestmark = pytest.mark.django_db
JSON = "application/json"


def sandbox_body(text: str, msg_id: str, phone: str = "+5511987654321") -> bytes:
    return f'{{"from": "{phone}", "name": "Ana", "text": "{text}", "id": "{msg_id}"}}'.encode()


def store(company, inbox, body: bytes) -> WebhookEvent:
    with schema_context(company.schema_name):
        return webhook_receive(inbox=inbox, body=body, content_type=JSON)


@pytest.fixture
def drain_flag(alpha):
    key = drain_flag_key(alpha.schema_name)
    get_redis().delete(key)
    yield key
    get_redis().delete(key)


def test_a_burst_of_webhooks_queues_one_drain(
    alpha, queue_to_redis, drain_flag, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)

    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            store(alpha, inbox, sandbox_body(f"burst {i}", f"sbx_burst_{i}"))

    queued = queue_to_redis.pending()
    assert [task.name for task in queued] == ["apps.conversations.drain.webhook_events_drain"]
    assert queued[0].args == (alpha.schema_name,)
    assert get_redis().exists(drain_flag)


def test_a_drain_processes_every_new_event_in_arrival_order_and_clears_its_flag(
    alpha, in_schema, drain_flag
):
    inbox = make_inbox(alpha)
    with in_schema(alpha.schema_name):
        for i in range(3):
            WebhookEvent.objects.create(
                inbox=inbox, body=sandbox_body(f"in order {i}", f"sbx_order_{i}"), content_type=JSON
            )
    get_redis().set(drain_flag, 1)

    assert webhook_events_drain.call_local(alpha.schema_name) == 3

    assert not get_redis().exists(drain_flag)
    with in_schema(alpha.schema_name):
        assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
        texts = list(
            Message.objects.filter(text__startswith="in order").order_by("pk").values_list("text", flat=True)
        )
    assert texts == ["in order 0", "in order 1", "in order 2"]


def test_a_drain_leaves_events_that_failed_before_to_the_sweep(alpha, in_schema):
    inbox = make_inbox(alpha)
    with in_schema(alpha.schema_name):
        failed_before = WebhookEvent.objects.create(
            inbox=inbox, body=sandbox_body("again", "sbx_again"), content_type=JSON, attempts=1
        )

    assert webhook_events_drain.call_local(alpha.schema_name) == 0

    with in_schema(alpha.schema_name):
        failed_before.refresh_from_db()
        assert (failed_before.status, failed_before.attempts) == ("pending", 1)


def test_a_broken_event_is_recorded_and_the_drain_goes_on(alpha, in_schema):
    inbox = make_inbox(alpha)
    with in_schema(alpha.schema_name):
        broken = WebhookEvent.objects.create(inbox=inbox, body=b"not json", content_type=JSON)
        WebhookEvent.objects.create(
            inbox=inbox, body=sandbox_body("after", "sbx_after"), content_type=JSON
        )

    assert webhook_events_drain.call_local(alpha.schema_name) == 2

    with in_schema(alpha.schema_name):
        broken.refresh_from_db()
        assert (broken.status, broken.attempts) == ("pending", 1) and broken.error
        assert Message.objects.filter(provider_message_id="sbx_after").exists()


def test_a_burst_costs_the_same_queries_for_10_or_100_webhooks(
    alpha, in_schema, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)
    known = [new_phone() for _ in range(100)]
    for phone in known:
        receive(alpha, inbox, phone=phone)  # contacts with a conversation in progress

    def burst(size: int, run: str) -> None:
        with in_schema(alpha.schema_name):
            WebhookEvent.objects.bulk_create([
                WebhookEvent(
                    inbox=inbox, body=sandbox_body(run, f"sbx_{run}_{i}", phone=phone), content_type=JSON
                )
                for i, phone in enumerate(known[:size])
            ])

    # Set the row lock wait; lock the events; savepoint; dedupe; lock the contacts; lock the
    # conversations; insert the messages; update conversations and contacts; mark the events;
    # release. After commit the frames read their conversations and messages, and the automations
    # ask once whether any of them has something to do (nothing here: no task), so do the
    # automation rules (one indexed query for active rules on these events: none, no task), campaigns
    # read the messages once (opt-out words; replies to a campaign are looked for only after one),
    # reports keep their rollups (read the conversations, write their facts, add the messages per
    # hour and per minute; the minutes are pruned at most every few minutes, here on the first
    # burst), outbound webhooks look for the company's active endpoints once (none here), and flows
    # ask once whether the company uses flows at all (then remembered in Redis). In a test's
    # transaction BEGIN and COMMIT are a savepoint and its release, and commit hooks run when the
    # capture ends: the delivery is held around it as around the commit in `process_fresh_events`.
    for size in (10, 100):
        burst(size, f"run{size}")
        with in_schema(alpha.schema_name):
            connection.cursor().close()  # the schema's SET search_path, outside the count
            with django_assert_max_num_queries(27), delivered_together():
                with django_capture_on_commit_callbacks(execute=True):
                    assert process_fresh_events() == size
            assert Message.objects.filter(text=f"run{size}").count() == size


def test_when_storing_together_fails_every_event_is_applied_alone(alpha, in_schema, monkeypatch):
    """E.g. another transaction inserted a new customer's phone first: the batch insert clashes,
    its savepoint is rolled back and each event goes through the one-by-one path."""
    import apps.conversations.inbound_bulk as inbound_bulk

    def clash(received):
        from django.db import IntegrityError

        from apps.contacts.models import Contact

        Contact.objects.create(phone=new_phone(), name="rolled back with the savepoint")
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(inbound_bulk, "messages_receive", clash)
    inbox = make_inbox(alpha)
    phones = [new_phone() for _ in range(3)]
    with in_schema(alpha.schema_name):
        for i, phone in enumerate(phones):
            body = sandbox_body(f"alone {i}", f"sbx_alone_{i}", phone=phone)
            WebhookEvent.objects.create(inbox=inbox, body=body, content_type=JSON)

    assert webhook_events_drain.call_local(alpha.schema_name) == 3

    with in_schema(alpha.schema_name):
        from apps.contacts.models import Contact

        assert set(WebhookEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
        assert sorted(Message.objects.filter(text__startswith="alone").values_list("text", flat=True)) == [
            "alone 0", "alone 1", "alone 2"]
        assert not Contact.objects.filter(name="rolled back with the savepoint").exists()


@pytest.fixture
def drain_lock(alpha):
    key = drain_lock_key(alpha.schema_name)
    get_redis().delete(key)
    yield get_redis().lock(key, timeout=10)
    get_redis().delete(key)


def test_while_a_drain_runs_another_one_for_the_company_leaves_at_once(alpha, in_schema, drain_lock):
    inbox = make_inbox(alpha)
    with in_schema(alpha.schema_name):
        event = WebhookEvent.objects.create(
            inbox=inbox, body=sandbox_body("wait", "sbx_wait"), content_type=JSON
        )
    assert drain_lock.acquire(blocking=False)  # the running drain

    assert webhook_events_drain.call_local(alpha.schema_name) == 0

    with in_schema(alpha.schema_name):
        event.refresh_from_db()
        assert (event.status, event.attempts) == ("pending", 0)
    drain_lock.release()
    assert webhook_events_drain.call_local(alpha.schema_name) == 1


def test_an_event_committed_as_the_drain_lets_go_of_its_lock_is_still_taken(
    alpha, in_schema, drain_lock, monkeypatch
):
    """A drain queued for it may have found the lock still taken and left: the holder looks again
    after releasing it."""
    import apps.conversations.drain as tasks

    inbox = make_inbox(alpha)
    release = tasks.Lease.release
    late = []

    def release_then_an_event_arrives(lease):
        release(lease)
        if not late:
            late.append(WebhookEvent.objects.create(
                inbox=inbox, body=sandbox_body("late", "sbx_late"), content_type=JSON))

    monkeypatch.setattr(tasks.Lease, "release", release_then_an_event_arrives)
    with in_schema(alpha.schema_name):
        WebhookEvent.objects.create(inbox=inbox, body=sandbox_body("first", "sbx_first"), content_type=JSON)
        assert webhook_events_drain.call_local(alpha.schema_name) == 2
        assert Message.objects.filter(provider_message_id="sbx_late").exists()
        assert drain_lock.acquire(blocking=False)  # and it let go of the lock


def test_while_a_drain_works_its_flag_stays_up_so_new_webhooks_queue_no_task(
    alpha, in_schema, drain_flag, monkeypatch
):
    import apps.conversations.drain as tasks

    inbox = make_inbox(alpha)
    process = tasks.process_fresh_events
    flag_while_working = []

    def observed(*args, **kwargs):
        flag_while_working.append(bool(get_redis().exists(drain_flag)))
        return process(*args, **kwargs)

    monkeypatch.setattr(tasks, "process_fresh_events", observed)
    with in_schema(alpha.schema_name):
        WebhookEvent.objects.create(inbox=inbox, body=sandbox_body("flag", "sbx_flag"), content_type=JSON)
    get_redis().set(drain_flag, 1)  # set by the webhook that queued this drain

    assert webhook_events_drain.call_local(alpha.schema_name) == 1

    # One batch: it took less than a batch's worth, so the queue was empty then and the drain
    # looks again only after letting go of the flag.
    assert flag_while_working == [True] and not get_redis().exists(drain_flag)


def test_a_burst_of_receipts_is_applied_together_in_the_same_queries_for_5_or_50(
    alpha, in_schema, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)
    first = receive(alpha, inbox, phone=new_phone())
    with in_schema(alpha.schema_name):
        Message.objects.bulk_create([
            Message(conversation_id=first.conversation_id, inbox=inbox, direction="outbound",
                    sender_type="agent", text=f"reply {i}", status="sent", provider_message_id=f"sbx_out_{i}")
            for i in range(55)
        ])

    # Begin; set the row lock wait; lock the events; savepoint; lock the messages; write the
    # changes; mark the events; release; commit; after it, the frames read the messages and
    # outbound webhooks look for the company's active endpoints (none here).
    for run in (range(5), range(5, 55)):
        with in_schema(alpha.schema_name):
            WebhookEvent.objects.bulk_create([
                WebhookEvent(inbox=inbox, body=f'{{"status": "read", "id": "sbx_out_{i}"}}'.encode(),
                             content_type=JSON)
                for i in run
            ])
            connection.cursor().close()
            with django_assert_max_num_queries(11), delivered_together():
                with django_capture_on_commit_callbacks(execute=True):
                    assert process_fresh_events() == len(run)
            assert Message.objects.filter(direction="outbound", status="read").count() == run.stop
            assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
