"""SLA breaches with real sessions and workers: flagged and notified exactly once when two sweeps race,
and within seconds of the deadline by its timed check."""

import datetime as dt
import threading

import pytest
from django_tenants.utils import schema_context

from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.sla import sla_breaches_flag
from apps.notifications.models import Notification
from tests.conversations.test_sla import _breachable, join, make_team, team_inbox
from tests.fixtures.factories import make_user
from tests.fixtures.live_tenant import wait_until
from tests.fixtures.messaging import receive

pytestmark = [pytest.mark.live]


def test_two_workers_sweeping_at_once_flag_and_notify_each_breach_once(make_live_company):
    """Committed rows and two real database sessions racing through the same breaches."""
    company = make_live_company()
    team = make_team(company, sla_first_response_seconds=60)
    supervisor = make_user(company, role="supervisor")
    join(company, team, supervisor)
    inbox = team_inbox(company, team)
    breached = [_breachable(company, inbox, first_due_ago=5) for _ in range(40)]
    start = threading.Barrier(2)
    counts, errors = [], []

    def sweep():
        from django.db import connection

        try:
            with schema_context(company.schema_name):
                start.wait()
                counts.append(sla_breaches_flag())
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == [] and sum(counts) == len(breached)
    with schema_context(company.schema_name):
        assert Conversation.objects.filter(pk__in=breached, sla_breached=True).count() == len(breached)
        assert TimelineEvent.objects.filter(kind="sla_breached", conversation_id__in=breached).count() == 40
        per_conversation = Notification.objects.filter(user=supervisor, kind="sla_breached").values_list(
            "data__conversation_id", flat=True
        )
        assert sorted(per_conversation) == sorted(breached)


def test_a_missed_deadline_is_flagged_within_seconds_by_its_timed_check(make_live_company, worker):
    """With a real worker: the new conversation's deadlines are set after its commit, and the check
    queued for its first deadline flags it about a second after it passes, not at the next minute."""
    company = make_live_company()
    team = make_team(company, sla_first_response_seconds=2)
    supervisor = make_user(company, role="supervisor")
    join(company, team, supervisor)
    conversation_id = receive(company, team_inbox(company, team)).conversation_id

    def flagged():
        with schema_context(company.schema_name):
            return Conversation.objects.filter(pk=conversation_id, sla_breached=True).first()

    conversation = wait_until(flagged, timeout=40)
    late = (conversation.sla_breached_at - conversation.first_response_due_at).total_seconds()
    assert conversation.first_response_due_at == conversation.queued_at + dt.timedelta(seconds=2)
    assert 0 < late < 30
    with schema_context(company.schema_name):
        assert Notification.objects.filter(user=supervisor, kind="sla_breached").count() == 1
    print(f"breach flagged {late:.2f} s after the deadline")  # noqa: T201
