"""Fixtures of the outbound webhook tests: a receiver on 127.0.0.1 and endpoints made by the service."""

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.webhooks.services import endpoint_create
from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def fast_retries(settings):
    """Retries due at once, so a test sees a delivery's whole life in one go."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    return settings


def admin_of(company) -> User:
    with schema_context(company.schema_name):
        return User.objects.filter(role=User.Role.ADMIN, is_active=True).order_by("pk").first()


def make_endpoint(company, url: str, events=("contact.created",), secret: str | None = None):
    with schema_context(company.schema_name):
        return endpoint_create(actor=admin_of(company), url=url, events=list(events), secret=secret)
