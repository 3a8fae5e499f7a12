"""Whether a company has webhook endpoints at all (`conversa.in_use`): the listener hears every
batch of every company's events (a webhook drain's included) and asks this first, so a company
without endpoints pays no query, and no schema switch, for outbound webhooks.

Creating an endpoint writes "yes" at once and again after its commit, so no endpoint is ever
missed; deleting one forgets the mark after the commit, and the next look asks the database again.
"""

from django.db import connection
from django_tenants.utils import schema_context

from apps.webhooks.models import Endpoint
from conversa.in_use import InUseMark

MARK = InUseMark("webhooks")
in_use_key = MARK.key


def _any_endpoint(schema_name: str) -> bool:
    if connection.schema_name == schema_name:
        return Endpoint.objects.exists()
    with schema_context(schema_name):
        return Endpoint.objects.exists()


def webhooks_in_use(schema_name: str) -> bool:
    """Whether the company with this schema has any endpoint (active or not)."""
    return MARK.get(schema_name, lambda: _any_endpoint(schema_name))


mark_in_use = MARK.mark_now_and_after_commit
forget_after_commit = MARK.forget_after_commit
