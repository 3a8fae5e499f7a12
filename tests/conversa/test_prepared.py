"""A prepared read gives what its queryset gives, reads the database on every call, and takes only
the shapes it can serve."""

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.inboxes.intake import active_inbox
from apps.inboxes.models import Inbox
from conversa.middleware.tenant import served_domain
from conversa.prepared import PreparedRead
from tenants.models import Domain
from tests.conftest import host_of
from tests.fixtures.messaging import make_inbox

pytestmark = pytest.mark.django_db


def fields(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_the_host_lookup_builds_the_domain_its_company_and_plan_as_the_orm_does(alpha):
    host = host_of(alpha)
    expected = Domain.objects.select_related("tenant", "tenant__plan").get(domain=host)

    found = served_domain(host.upper() + ".")

    with CaptureQueriesContext(connection) as captured:
        assert fields(found) == fields(expected)
        assert fields(found.tenant) == fields(expected.tenant)
        assert fields(found.tenant.plan) == fields(expected.tenant.plan)
        assert found.tenant.schema_name == alpha.schema_name
    assert captured.captured_queries == []  # the company and plan came with the domain's row
    assert found._state.adding is False and found._state.db == "default"


def test_each_call_reads_the_database(alpha, bravo):
    host = host_of(bravo)
    assert served_domain(host).tenant.pk == bravo.pk
    Domain.objects.filter(domain=host).update(verified_at=None)
    try:
        assert served_domain(host) is None
    finally:
        Domain.objects.filter(domain=host).update(verified_at=alpha.domains.get(is_primary=True).verified_at)
    assert served_domain(host).tenant.pk == bravo.pk
    assert served_domain("nobody.example.com") is None


def test_a_webhooks_inbox_comes_with_its_credentials_and_only_while_active(alpha):
    credentials = {"account_sid": "AC" + "7" * 32, "auth_token": "prepared-read-token-0123",
                   "from_number": "whatsapp:+14155238886"}
    inbox = make_inbox(alpha, provider="twilio", credentials=credentials)
    with schema_context(alpha.schema_name):
        found = active_inbox(inbox.pk, "twilio")
        assert fields(found) == fields(Inbox.objects.get(pk=inbox.pk))
        assert found.credentials == credentials
        assert active_inbox(inbox.pk, "whatsapp_cloud") is None
        Inbox.objects.filter(pk=inbox.pk).update(is_active=False)
        assert active_inbox(inbox.pk, "twilio") is None


def test_a_value_used_twice_is_put_in_both_places(alpha):
    inbox = make_inbox(alpha, provider="sandbox")
    twice = PreparedRead(lambda pk: Inbox.objects.filter(Q(pk=pk) | Q(pk__lt=pk), pk__gte=pk), pk=0)
    with schema_context(alpha.schema_name):
        assert [found.pk for found in twice.all(pk=inbox.pk)] == [inbox.pk]
        assert twice.all(pk=inbox.pk + 1) == []


def test_a_shape_it_cannot_serve_is_refused_when_first_used():
    wrapped = PreparedRead(lambda name: Inbox.objects.filter(name__icontains=name), name="")
    with pytest.raises(ValueError, match="unchanged"):  # '%name%' is not the value passed
        wrapped.first(name="Support")
    also_wrapped = PreparedRead(
        lambda name: Inbox.objects.filter(provider=name, name__icontains=name), name=""
    )
    with pytest.raises(ValueError, match="only where they stand"):
        also_wrapped.first(name="Support")
    counted = PreparedRead(lambda name: Inbox.objects.filter(name=name).annotate(n=Count("pk")), name="")
    with pytest.raises(ValueError, match="plain model instances"):
        counted.first(name="Support")
