"""Fixtures of the campaign tests: a company's managers and agent, an inbox and an audience."""

import uuid

import pytest
from django_tenants.utils import schema_context

from apps.campaigns import services
from apps.contacts.models import ContactList, ContactListMember
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox


@pytest.fixture
def desk(alpha, api):
    people = {
        "admin": make_user(alpha, role="admin", name="Alice Admin"),
        "supervisor": make_user(alpha, role="supervisor", name="Sara Supervisor"),
        "agent": make_user(alpha, name="Ana Agent"),
    }
    clients = {role: api(alpha, token=api(alpha).login(user.email)["access"])
               for role, user in people.items()}
    return {"people": people, "api": clients, "inbox": make_inbox(alpha, rate=80)}


def make_audience(company, n: int, *, tag: str | None = None, **fields) -> tuple[str, list]:
    """`n` contacts carrying a fresh tag; returns the tag and the contacts."""
    tag = tag or f"t{uuid.uuid4().hex[:8]}"
    return tag, [make_contact(company, name=f"Client {i} Smith", tags=[tag], **fields) for i in range(n)]


def make_list(company, contacts, name: str | None = None) -> ContactList:
    with schema_context(company.schema_name):
        contact_list = ContactList.objects.create(name=name or f"List {uuid.uuid4().hex[:6]}")
        ContactListMember.objects.bulk_create(
            [ContactListMember(contact_list=contact_list, contact=contact) for contact in contacts])
        return contact_list


def make_campaign(company, *, actor, inbox, tags, text="Hi {{contact.first_name}}!", **fields):
    with schema_context(company.schema_name):
        return services.campaign_create(
            actor=actor, name=fields.pop("name", "Spring sale"), inbox_id=inbox.pk,
            audience={"tags": tags, **fields.pop("audience", {})},
            message=fields.pop("message", {"text": text}),
            **fields,
        )
