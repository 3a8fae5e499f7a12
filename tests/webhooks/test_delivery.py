"""Outbound webhook deliveries (SPEC §12, issue 16 acceptance 3): retries end in exactly one
success, signatures verify with the documented snippet, dead endpoints are disabled and never hold
up healthy ones, private addresses are refused at send time, and events stay in their company."""

import time

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.audit.models import AuditLog
from apps.contacts.services import contact_update
from apps.notifications.models import Notification
from apps.webhooks.delivery import endpoint_drain
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.services import endpoint_update
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.fixtures.contacts import make_contact
from tests.webhooks.conftest import admin_of, make_endpoint
from tests.webhooks.verify_snippet import verify

pytestmark = pytest.mark.django_db


def deliveries(company, endpoint) -> list[Delivery]:
    with schema_context(company.schema_name):
        return list(Delivery.objects.filter(endpoint=endpoint).order_by("id"))


def test_a_receiver_failing_three_times_gets_exactly_one_successful_delivery_per_event(
    alpha, receiver, fast_retries, django_capture_on_commit_callbacks,
):
    endpoint, _secret = make_endpoint(alpha, receiver.url, events=["contact.created", "contact.updated"])
    receiver.fail_next(3)

    with django_capture_on_commit_callbacks(execute=True):
        contact = make_contact(alpha, name="Rita Retry")
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        contact_update(contact=contact, name="Rita Retried")

    first, second = deliveries(alpha, endpoint)
    assert [(d.event, d.status, d.attempts, d.response_code) for d in (first, second)] == [
        ("contact.created", "succeeded", 4, 200), ("contact.updated", "succeeded", 1, 200)]
    answers = [(r.headers["x-conversa-delivery"], r.status) for r in receiver.received]
    assert answers == [(str(first.key), 500)] * 3 + [(str(first.key), 200), (str(second.key), 200)]
    assert receiver.received[0].json["data"]["name"] == "Rita Retry"
    assert receiver.received[-1].json["data"]["name"] == "Rita Retried"

    # A duplicate task (Huey retry, a second worker) finds nothing left to send.
    with schema_context(alpha.schema_name):
        assert endpoint_drain(endpoint_id=endpoint.pk) == 0
        assert Endpoint.objects.get(pk=endpoint.pk).consecutive_failures == 0
    assert len(receiver.received) == 5


def test_signatures_verify_with_the_documented_snippet_and_fail_with_another_secret(
    alpha, receiver, django_capture_on_commit_callbacks,
):
    endpoint, secret = make_endpoint(alpha, receiver.url)
    assert secret.startswith("whsec_")

    with django_capture_on_commit_callbacks(execute=True):
        contact = make_contact(alpha, name="Sam Signed")

    [request] = receiver.received
    header = request.headers["x-conversa-signature"]
    assert verify(secret, request.body, header)
    assert not verify("whsec_not-the-endpoints-secret-at-all", request.body, header)
    assert not verify(secret, request.body.replace(b"Sam Signed", b"Sam Forged"), header)
    body = request.json
    assert set(body) == {"id", "event", "created_at", "data"}
    assert (body["event"], body["data"]["id"], body["data"]["name"]) == ("contact.created", contact.pk,
                                                                         "Sam Signed")
    assert request.headers["x-conversa-event"] == "contact.created"
    assert request.headers["x-conversa-delivery"] == body["id"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Conversa-Webhooks/")
    [delivery] = deliveries(alpha, endpoint)
    assert "X-Conversa-Signature: t=" in delivery.request_excerpt
    assert delivery.response_excerpt == '{"ok": true}'


def test_a_dead_endpoint_is_disabled_after_the_configured_failures_and_its_admins_are_told(
    alpha, receiver, fast_retries, django_capture_on_commit_callbacks,
):
    fast_retries.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    admin = admin_of(alpha)
    with schema_context(alpha.schema_name):
        User.objects.filter(pk=admin.pk).update(language="es")
    endpoint, _secret = make_endpoint(alpha, receiver.url, events=["contact.created"])
    receiver.fail_next(1000)

    with django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="Dora Dead")
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="Dan Dead")  # a disabled endpoint gets no deliveries

    with schema_context(alpha.schema_name):
        endpoint.refresh_from_db()
        notices = list(Notification.objects.filter(user=admin, kind="webhook_disabled"))
        audit = list(AuditLog.objects.filter(action="webhook.disabled", entity_id=str(endpoint.pk)))
    assert (endpoint.active, endpoint.consecutive_failures, endpoint.health) == (False, 3, "disabled")
    assert len(receiver.received) == 3
    assert [n.data for n in notices] == [{"webhook_id": endpoint.pk}]
    assert notices[0].title == f"Webhook desactivado: {receiver.url}"  # in the admin's language
    assert audit[0].changes["active"] == [True, False]

    # Fixed and enabled again: the delivery that waited goes out, the count starts afresh.
    receiver.fail_next(0)
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        endpoint_update(actor=admin, endpoint=endpoint, active=True)
    assert [(d.status, d.attempts) for d in deliveries(alpha, endpoint)] == [("succeeded", 4)]
    assert [r.json["data"]["name"] for r in receiver.received[3:]] == ["Dora Dead"]
    with schema_context(alpha.schema_name):
        endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.consecutive_failures) == (True, 0)


def test_a_dead_endpoint_costs_one_attempt_per_pause_and_never_holds_up_a_healthy_one(
    alpha, receiver, settings, django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    with WebhookReceiver(hang_seconds=2) as dead:
        dead.hang = True
        dead_endpoint, _ = make_endpoint(alpha, dead.url)
        healthy_endpoint, _ = make_endpoint(alpha, receiver.url)

        started = time.monotonic()
        for n in range(5):
            with django_capture_on_commit_callbacks(execute=True):
                make_contact(alpha, name=f"Client {n}")
        took = time.monotonic() - started

    # One timed-out attempt paused the dead endpoint; the four later events wait in its own queue.
    assert len(dead.received) == 1
    assert [d.status for d in deliveries(alpha, dead_endpoint)] == ["pending"] * 5
    assert "timeout" in deliveries(alpha, dead_endpoint)[0].error
    assert [d.status for d in deliveries(alpha, healthy_endpoint)] == ["succeeded"] * 5
    assert len(receiver.received) == 5
    assert took < 0.3 * 2 + 1.5


def test_private_addresses_are_refused_at_send_time(
    alpha, receiver, settings, django_capture_on_commit_callbacks,
):
    endpoint, _secret = make_endpoint(alpha, receiver.url)  # allowed when it was made (tests allow it)
    settings.OUTBOUND_ALLOW_PRIVATE = False  # e.g. its name now resolves to 127.0.0.1

    with django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="Ivy Internal")

    [delivery] = deliveries(alpha, endpoint)
    assert receiver.received == []
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, None)
    assert delivery.error.startswith("refused:")


def test_a_company_endpoints_never_get_another_company_events(
    alpha, bravo, receiver, django_capture_on_commit_callbacks,
):
    with WebhookReceiver() as bravo_receiver:
        alpha_endpoint, _ = make_endpoint(alpha, receiver.url)
        make_endpoint(bravo, bravo_receiver.url)

        with django_capture_on_commit_callbacks(execute=True):
            make_contact(bravo, name="Bravo Only")

    assert [r.json["data"]["name"] for r in bravo_receiver.received] == ["Bravo Only"]
    assert receiver.received == []
    assert deliveries(alpha, alpha_endpoint) == []


def test_conversation_and_message_events_carry_what_the_api_shows(
    alpha, receiver, django_capture_on_commit_callbacks,
):
    from tests.fixtures.messaging import make_inbox, receive

    inbox = make_inbox(alpha)
    make_endpoint(alpha, receiver.url, events=["conversation.created", "message.created"])

    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, inbox, text="Where is my order?", name="Olga Order")

    by_event = {r.json["event"]: r.json["data"] for r in receiver.received}
    assert set(by_event) == {"conversation.created", "message.created"}
    assert by_event["message.created"]["text"] == "Where is my order?"
    assert by_event["message.created"]["conversation_id"] == by_event["conversation.created"]["id"]
    assert by_event["conversation.created"]["contact"]["name"] == "Olga Order"
    assert by_event["conversation.created"]["id"] == message.conversation_id


def test_failing_endpoints_wait_for_a_free_place_while_healthy_ones_go_on(
    alpha, receiver, settings, django_capture_on_commit_callbacks,
):
    import datetime as dt
    import uuid

    from django.utils import timezone

    from apps.webhooks.delivery import _leave_place, _take_place

    settings.WEBHOOK_SUSPECT_WORKERS = 1
    with WebhookReceiver() as flaky:
        failing, _ = make_endpoint(alpha, flaky.url)
        healthy, _ = make_endpoint(alpha, receiver.url)
        with schema_context(alpha.schema_name):
            now = timezone.now()
            Endpoint.objects.filter(pk=healthy.pk).update(last_success_at=now)  # answered well before
            Endpoint.objects.filter(pk=failing.pk).update(  # failed since its last success
                last_success_at=now - dt.timedelta(hours=1), last_failure_at=now, consecutive_failures=2)
        elsewhere = uuid.uuid4()
        assert _take_place(elsewhere)  # another worker is attempting another failing endpoint
        try:
            with django_capture_on_commit_callbacks(execute=True):
                make_contact(alpha, name="Paula Place")
        finally:
            _leave_place(elsewhere)
        assert flaky.received == [] and len(receiver.received) == 1
        with schema_context(alpha.schema_name):
            failing.refresh_from_db()
            assert failing.retry_at is not None  # looked at again in a moment, not at once
            Endpoint.objects.filter(pk=failing.pk).update(retry_at=None)
            assert endpoint_drain(endpoint_id=failing.pk) == 1  # the place is free again
        assert [r.json["data"]["name"] for r in flaky.received] == ["Paula Place"]


def test_a_new_endpoint_is_suspect_until_it_answers_well():
    import datetime as dt

    from django.utils import timezone

    from apps.webhooks.delivery import is_suspect

    now = timezone.now()
    assert is_suspect(Endpoint())
    assert not is_suspect(Endpoint(last_success_at=now, last_duration_ms=40))
    assert is_suspect(Endpoint(last_success_at=now, last_duration_ms=2500))  # slow
    assert is_suspect(Endpoint(last_success_at=now - dt.timedelta(minutes=1), last_failure_at=now))


def test_the_sweep_hands_back_an_attempt_whose_worker_died_and_forgets_old_deliveries(
    alpha, receiver, django_capture_on_commit_callbacks,
):
    import datetime as dt

    from django.utils import timezone

    from apps.webhooks.tasks import webhooks_sweep
    from conversa.redis import get_redis, redis_key

    endpoint, _ = make_endpoint(alpha, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(alpha, name="Zack Zombie")
    [delivery] = deliveries(alpha, endpoint)
    with schema_context(alpha.schema_name):
        # Its worker died mid-attempt: `sending`, the claim lapsed, no outcome recorded.
        Delivery.objects.filter(pk=delivery.pk).update(
            status="sending", claimed_until=timezone.now() - dt.timedelta(seconds=1),
            next_attempt_at=delivery.created_at, delivered_at=None, response_code=None)
        # And an old one, delivered long ago: past the log's retention.
        old = Delivery.objects.create(endpoint=endpoint, event="contact.created", payload={},
                                      status="succeeded")
        Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    receiver.received.clear()
    get_redis().delete(redis_key("webhooks", "retention", alpha.schema_name))

    assert webhooks_sweep.call_local(alpha.schema_name) == 1

    [delivery] = deliveries(alpha, endpoint)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert [r.json["data"]["name"] for r in receiver.received] == ["Zack Zombie"]
    assert webhooks_sweep.call_local(alpha.schema_name) == 0
