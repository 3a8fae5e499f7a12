"""Two workers delivering one customer's messages at the same moment never run two steps of the
conversation's flow at once. Committed data, one thread (and connection) per worker."""

import threading

from django.db import connections
from django_tenants.utils import schema_context

from apps.conversations.models import Message
from apps.flows import services
from apps.flows.models import FlowSession, FlowStep
from tests.fixtures.messaging import make_inbox, new_phone, receive

GRAPH = {
    "start": "name",
    "nodes": {
        "name": {"type": "question", "text": "Your name?", "variable": "name", "next": "city"},
        "city": {"type": "question", "text": "Your city?", "variable": "city", "next": "bye"},
        "bye": {"type": "end", "text": "Thanks {{name}} from {{city}}."},
    },
}


def test_concurrent_answers_are_taken_one_step_at_a_time(make_live_company):
    company = make_live_company()
    inbox = make_inbox(company)
    with schema_context(company.schema_name):
        flow = services.flow_create(
            actor=None, name="Survey", graph=GRAPH, trigger={"type": "new_conversation", "inbox_id": inbox.pk}
        )
        services.flow_publish(actor=None, flow=flow)
    phones = [new_phone() for _ in range(4)]
    for phone in phones:
        receive(company, inbox, phone=phone, text="Hi")  # commits: the flow asks for the name
    barrier = threading.Barrier(2 * len(phones))
    failures = []

    def worker(phone, text):
        try:
            barrier.wait()
            receive(company, inbox, phone=phone, text=text)
        except Exception as exc:  # surfaced by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(phone, text)) for phone in phones for text in ("Ana", "Lisbon")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    with schema_context(company.schema_name):
        for phone in phones:
            answers = list(
                Message.objects.filter(conversation__contact__phone=phone, direction="inbound")
                .exclude(text="Hi")
                .order_by("pk")
                .values_list("text", flat=True)
            )
            session = FlowSession.objects.get(conversation__contact__phone=phone)
            said = list(
                Message.objects.filter(conversation__contact__phone=phone, sender_type="bot")
                .order_by("pk")
                .values_list("text", flat=True)
            )
            # Whichever arrived first is the name: each answer taken once, in order, by one step.
            assert said == ["Your name?", "Your city?", f"Thanks {answers[0]} from {answers[1]}."]
            assert (session.status, session.variables) == (
                "completed",
                {"name": answers[0], "city": answers[1]},
            )
            visits = sorted(FlowStep.objects.filter(session=session).values_list("node", flat=True))
            assert visits == ["bye", "city", "name"]
