"""Articles for the knowledge-base tests, written through the services in a company's schema."""

import uuid

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.knowledge import help_cache
from apps.knowledge.services import article_create, category_create


def publish(company, *, title="Reset your password", body="Open **Profile**.", visibility="public",
            status="published", category=None):
    with schema_context(company.schema_name):
        admin = User.objects.filter(role="admin").first()
        if category is None:
            category = category_create(actor=admin, name=f"Account {uuid.uuid4().hex[:6]}")
        return article_create(actor=admin, category_id=category.pk, title=title, body=body,
                              visibility=visibility, status=status)


def visit(host: str, path: str, *, method="get", **kwargs):
    client = kwargs.pop("client", None) or Client(HTTP_HOST=host)
    response = getattr(client, method)(path, **kwargs)
    connection.set_schema_to_public()
    return response


@pytest.fixture
def clean_help_cache(companies):
    """Cached pages outlive the rolled-back rows of a test: every test starts with none of the
    shared companies' pages (new version numbers; the cache is shared, so it is never flushed)."""
    for company in companies.values():
        with schema_context(company.schema_name):
            help_cache.bump()
    yield
