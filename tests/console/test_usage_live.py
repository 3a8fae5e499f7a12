"""Acceptance 6: 25 outbound messages sent by 10 workers at once show as 25 in the console.

Committed data (`live_db`): the 10 threads are separate database sessions, as workers are.
"""

import re
import threading
import uuid

from django.db import connections
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.conversations.models import Conversation, Message
from apps.conversations.outbound import message_send
from tenants.usage import usage_for_month
from tests.console.conftest import Console
from tests.fixtures.factories import PASSWORD
from tests.fixtures.messaging import make_inbox, receive

WORKERS, MESSAGES = 10, 25


def test_outbound_messages_sent_concurrently_are_counted_exactly(live_db, make_live_company):
    acme = make_live_company()
    inbox = make_inbox(acme, rate=1000)
    conversation_ids = [receive(acme, inbox).conversation_id for _ in range(5)]
    barrier = threading.Barrier(WORKERS)
    errors = []

    def worker(number: int):
        try:
            barrier.wait()
            with schema_context(acme.schema_name):
                # 25 over 10 workers: the first five send three, the others two
                for n in range(3 if number < MESSAGES - 2 * WORKERS else 2):
                    conversation = Conversation.objects.get(pk=conversation_ids[(number + n) % 5])
                    # Delivery runs inline after the commit (Huey immediate): the provider's call
                    # and the usage increment happen in this worker's own session.
                    message_send(conversation=conversation, author=None, text=f"w{number} m{n}")
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    with schema_context(acme.schema_name):
        statuses = list(Message.objects.filter(direction="outbound").values_list("status", flat=True))
    assert len(statuses) == MESSAGES and set(statuses) == {"sent"}
    assert usage_for_month(company_id=acme.pk)["outbound_messages"] == MESSAGES

    with schema_context("public"):
        operator = User.objects.create_superuser(f"operator-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    console = Console()
    assert console.login(operator.email).status_code == 302
    listed = console.get("/console/", q=acme.slug).content.decode()
    row = re.search(rf'<tr data-slug="{acme.slug}">(.*?)</tr>', listed, re.S).group(1)
    assert re.search(r'class="num outbound">25<', row)
    page = console.get(f"/console/companies/{acme.pk}/").content.decode()
    assert re.search(r'data-usage="outbound">25', page)
