"""Nothing is lost when a queue or worker is: periodic sweeps settle what was left behind."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.conversations.drain import webhook_events_sweep
from apps.conversations.models import DELIVERY_UNKNOWN, Message
from apps.conversations.outbound import deliveries_recover, message_send
from apps.inboxes.models import WebhookEvent
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def test_a_stored_webhook_whose_task_was_lost_is_processed_by_the_sweep(alpha, in_schema):
    inbox = make_inbox(alpha)
    body = b'{"from": "+5511987654321", "name": "Lost", "text": "anyone?", "id": "sbx_in_lost"}'
    with in_schema(alpha.schema_name):
        event = WebhookEvent.objects.create(inbox=inbox, body=body, content_type="application/json")
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - dt.timedelta(minutes=2))

    assert webhook_events_sweep.call_local(alpha.schema_name) == 1

    with in_schema(alpha.schema_name):
        event.refresh_from_db()
        assert event.status == "processed"
        assert Message.objects.get(provider_message_id="sbx_in_lost").text == "anyone?"
    assert webhook_events_sweep.call_local(alpha.schema_name) == 0


def test_an_expired_send_lease_becomes_delivery_unknown_and_is_not_resent(alpha, in_schema):
    inbox = make_inbox(alpha)
    conversation_id = receive(alpha, inbox).conversation_id
    with in_schema(alpha.schema_name):
        message = Message.objects.create(
            conversation_id=conversation_id,
            inbox=inbox,
            direction="outbound",
            sender_type="agent",
            text="interrupted",
            status="sending",
            claimed_until=timezone.now() - dt.timedelta(seconds=1),
        )
        assert deliveries_recover() == {"interrupted": 1, "requeued": 0}
        message.refresh_from_db()
    assert message.status == "failed" and message.error_code == DELIVERY_UNKNOWN


def test_a_pending_message_whose_task_was_lost_is_sent_once(alpha, in_schema):
    from apps.conversations.models import Conversation

    inbox = make_inbox(alpha)
    conversation_id = receive(alpha, inbox).conversation_id
    with in_schema(alpha.schema_name):
        # queued, but its task never ran (on_commit callbacks do not run in this test's transaction)
        message = message_send(
            conversation=Conversation.objects.get(pk=conversation_id), author=None, text="hi"
        )
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))

        assert deliveries_recover() == {"interrupted": 0, "requeued": 1}
        message.refresh_from_db()
        assert message.status == "sent" and message.attempts == 1
        assert deliveries_recover() == {"interrupted": 0, "requeued": 0}


def test_the_minute_job_runs_housekeeping_in_every_company(alpha, bravo, monkeypatch):
    from conversa import periodic

    seen = []
    monkeypatch.setattr(periodic, "_EVERY_MINUTE", [seen.append])
    periodic.run_every_minute.call_local()
    assert {"alpha", "bravo"} <= set(seen) and "public" not in seen


def test_the_drain_recovery_processes_events_no_drain_was_queued_for(alpha, in_schema):
    """What a worker runs when it starts and when Redis comes back restarted: the events stored
    while nothing could queue their drain are processed at once, not at the next sweep."""
    from apps.conversations.drain import RedisWatch

    inbox = make_inbox(alpha)
    body = b'{"from": "+5511987654322", "name": "Waiting", "text": "still there?", "id": "sbx_in_waiting"}'
    with in_schema(alpha.schema_name):
        event = WebhookEvent.objects.create(inbox=inbox, body=body, content_type="application/json")
    watch = RedisWatch()

    assert watch.check()  # a new Redis (run_id) for this watch: it recovers
    assert not watch.check()  # the same Redis: nothing to do

    with in_schema(alpha.schema_name):
        event.refresh_from_db()
        assert event.status == "processed"
        assert Message.objects.get(provider_message_id="sbx_in_waiting").text == "still there?"
