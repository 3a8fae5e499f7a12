"""Contacts under real concurrency: committed data, one thread (and connection) per request.

Not marked `django_db`: the company and the contacts must be committed for the threads to see them.
"""

import threading

from django.db import connections

from apps.contacts.models import Contact
from apps.contacts.services import contact_create, contact_get_or_create_for_inbound
from tenants.limits import PlanLimitReached
from tests.fixtures.contacts import limit_contacts, unique_phone


def test_concurrent_inbound_messages_from_a_new_number_make_one_contact(
    live_db, make_live_company, in_schema,
):
    company = make_live_company()
    phone = unique_phone()
    barrier = threading.Barrier(8)
    results, failures = [], []

    def webhook():
        try:
            with in_schema(company.schema_name):
                barrier.wait()
                results.append(contact_get_or_create_for_inbound(phone=phone, name="Customer"))
        except Exception as exc:  # surfaced by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=webhook) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len({contact.pk for contact, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with in_schema(company.schema_name):
        assert Contact.objects.filter(phone=phone).count() == 1


def test_concurrent_creations_never_overshoot_max_contacts(live_db, make_live_company, in_schema):
    company = limit_contacts(make_live_company(), 3)
    barrier = threading.Barrier(8)
    created, refused, failures = [], [], []

    def create():
        try:
            with in_schema(company.schema_name):
                barrier.wait()
                created.append(contact_create(phone=unique_phone()))
        except PlanLimitReached as exc:
            refused.append(exc)
        except Exception as exc:  # surfaced by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert (len(created), len(refused)) == (3, 5)
    with in_schema(company.schema_name):
        assert Contact.objects.count() == 3
