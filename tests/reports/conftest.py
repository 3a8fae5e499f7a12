"""A seeded week in two time zones for the reports' hand-computed figures.

The company reports in São Paulo time. Team "Vendas SP" works 09:00–18:00 São Paulo, "Support NY"
09:00–17:00 New York (EST in November 2026), both Monday to Friday. Friday is 2026-11-06, Monday
2026-11-09. Rows get their timestamps here (a factory), then their events go through the real bus,
as the services' would, and the listeners keep the rollups.

| conv | team | agent | opened (local) | first response (local) | closed (local) | business s | SLA |
|---|---|---|---|---|---|---|---|
| c1 | SP | ana | Fri 17:50 SP | Mon 09:10 SP | Mon 09:40 SP | 1200/3000 | met |
| c2 | SP | ana | Mon 10:00 SP | Mon 10:30 SP | Mon 12:00 SP | 1800/7200 | breached |
| c3 | NY | bob | Fri 16:30 NY | Mon 09:15 NY | Mon 10:00 NY | 2700/5400 | none |
| c4 | NY | — | Mon 11:00 NY | — | — | — | breached |
| c5 | — | ana | Sat 00:00 SP | Sat 00:10 SP | — | 600 (24/7) | none |
| c6 | SP | ana | Wed 11-04 23:30 SP | — | — | — | none |

c6 is 2026-11-05 02:30 UTC: inside a range starting on the 5th in UTC, outside it in São Paulo.
"""

import datetime as dt
import decimal
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from django.test import TestCase
from django_tenants.utils import schema_context

from apps.accounts.events import AGENT_STATUS_UPDATED
from apps.accounts.models import AgentStatusPeriod
from apps.conversations import events
from apps.conversations.models import Conversation, Message
from apps.teams.models import Team
from conversa.events import delivered_together, publish
from tenants.models import Company
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox
from tests.fixtures.routing import add_member

SP, NY, UTC = ZoneInfo("America/Sao_Paulo"), ZoneInfo("America/New_York"), dt.UTC
WEEKDAYS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
NY_WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def at(zone, day, hour, minute=0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=zone)


@dataclass
class Week:
    company: Company
    sp: Team
    ny: Team
    ana: object
    bob: object
    supervisor: object
    admin: object
    inbox_sp: object
    inbox_ny: object
    conversations: dict = field(default_factory=dict)


def conversation_row(company, *, inbox, team=None, agent=None, opened, answered=None, closed=None,
                     first_due=None, resolution_due=None, breached=False, outcome="", value=None,
                     csat=None) -> Conversation:
    with schema_context(company.schema_name):
        contact = make_contact(company, name="Cliente")
        conversation = Conversation.objects.create(
            contact=contact, inbox=inbox, team=team, assignee=agent,
            status=Conversation.Status.CLOSED if closed else Conversation.Status.OPEN if agent
            else Conversation.Status.QUEUED,
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            created_at=opened, queued_at=opened, first_response_at=answered, closed_at=closed,
            last_message_at=answered or opened, first_response_due_at=first_due,
            resolution_due_at=resolution_due, sla_breached=breached, outcome=outcome,
            outcome_value=decimal.Decimal(value) if value is not None else None, csat_rating=csat,
        )
        return conversation


def message_row(company, conversation, *, direction, at_time, sender=None) -> Message:
    with schema_context(company.schema_name):
        message = Message.objects.create(
            conversation=conversation, inbox_id=conversation.inbox_id, direction=direction,
            sender_type="agent" if sender else "contact", sender_user=sender, text="Oi",
            status="sent" if direction == "outbound" else "received",
        )
        Message.objects.filter(pk=message.pk).update(created_at=at_time)
        return message


def announce(company, names_and_data: list[tuple[str, dict]]) -> None:
    """Commit (as far as the test's transaction allows) and deliver these events as one batch."""
    with schema_context(company.schema_name), TestCase.captureOnCommitCallbacks(execute=True), \
            delivered_together():
        for name, data in names_and_data:
            publish(name, data)


def seed_week(company) -> Week:
    with schema_context(company.schema_name):
        Company.objects.filter(pk=company.pk).update(time_zone="America/Sao_Paulo")
        company.refresh_from_db()
        sp = Team.objects.create(name="Vendas SP", business_hours={"timezone": "America/Sao_Paulo",
                                                                     "days": WEEKDAYS})
        ny = Team.objects.create(name="Support NY", business_hours={"timezone": "America/New_York",
                                                                      "days": NY_WEEKDAYS})
    ana = make_user(company, name="Ana Agent")
    bob = make_user(company, name="Bob Agent")
    supervisor = make_user(company, role="supervisor", name="Sara Supervisor")
    admin = make_user(company, role="admin", name="Alice Admin")
    add_member(company, sp, ana)
    add_member(company, sp, supervisor)
    add_member(company, ny, bob)
    inbox_sp = make_inbox(company, name="WhatsApp SP")
    inbox_ny = make_inbox(company, name="WhatsApp NY")
    week = Week(company, sp, ny, ana, bob, supervisor, admin, inbox_sp, inbox_ny)
    c = week.conversations
    c["c1"] = conversation_row(company, inbox=inbox_sp, team=sp, agent=ana, opened=at(SP, 6, 17, 50),
                               answered=at(SP, 9, 9, 10), closed=at(SP, 9, 9, 40),
                               first_due=at(SP, 9, 9, 20), resolution_due=at(SP, 9, 10, 0),
                               outcome="sale", value="100.00", csat=5)
    c["c2"] = conversation_row(company, inbox=inbox_sp, team=sp, agent=ana, opened=at(SP, 9, 10, 0),
                               answered=at(SP, 9, 10, 30), closed=at(SP, 9, 12, 0),
                               first_due=at(SP, 9, 10, 15), breached=True, outcome="no_sale", csat=3)
    c["c3"] = conversation_row(company, inbox=inbox_ny, team=ny, agent=bob, opened=at(NY, 6, 16, 30),
                               answered=at(NY, 9, 9, 15), closed=at(NY, 9, 10, 0), csat=4)
    c["c4"] = conversation_row(company, inbox=inbox_ny, team=ny, opened=at(NY, 9, 11, 0),
                               first_due=at(NY, 9, 11, 30), breached=True)
    c["c5"] = conversation_row(company, inbox=inbox_sp, agent=ana, opened=at(SP, 7, 0, 0),
                               answered=at(SP, 7, 0, 10))
    c["c6"] = conversation_row(company, inbox=inbox_sp, team=sp, agent=ana, opened=at(SP, 4, 23, 30))
    sent = [
        message_row(company, c["c1"], direction="inbound", at_time=at(SP, 6, 17, 50)),
        message_row(company, c["c1"], direction="outbound", at_time=at(SP, 9, 9, 10), sender=ana),
        message_row(company, c["c2"], direction="inbound", at_time=at(SP, 9, 10, 0)),
        message_row(company, c["c2"], direction="inbound", at_time=at(SP, 9, 10, 5)),
        message_row(company, c["c2"], direction="outbound", at_time=at(SP, 9, 10, 30), sender=ana),
        message_row(company, c["c3"], direction="inbound", at_time=at(NY, 6, 16, 30)),
        message_row(company, c["c3"], direction="outbound", at_time=at(NY, 9, 9, 15), sender=bob),
        message_row(company, c["c4"], direction="inbound", at_time=at(NY, 9, 11, 0)),
        message_row(company, c["c6"], direction="inbound", at_time=at(SP, 4, 23, 30)),
    ]
    with schema_context(company.schema_name):
        AgentStatusPeriod.objects.create(user=ana, status="available", started_at=at(UTC, 9, 12),
                                         ended_at=at(UTC, 9, 14))
        AgentStatusPeriod.objects.create(user=ana, status="paused", started_at=at(UTC, 9, 14),
                                         ended_at=at(UTC, 9, 14, 30))
    announce(company, [
        *[(events.CONVERSATION_UPDATED, {"conversation_id": conv.pk}) for conv in c.values()],
        *[(events.MESSAGE_CREATED, {"message_id": message.pk}) for message in sent],
        (AGENT_STATUS_UPDATED, {"user_id": ana.pk}),
    ])
    return week


@pytest.fixture
def week(db, alpha):
    return seed_week(alpha)


@pytest.fixture
def client_of(api):
    """`client_of(company, user)`: an API client signed in as `user`."""

    def make(company, user):
        return api(company, token=api(company).login(user.email)["access"])

    return make
