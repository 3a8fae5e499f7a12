"""A send whose answer never came may have been delivered: it is flagged so, never blindly resent."""

import httpx
import pytest

from apps.inboxes.providers import get_provider
from apps.inboxes.providers.base import ProviderError
from tests.fakes.provider_server import FakeProviderServer


@pytest.fixture
def fake(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    with FakeProviderServer() as server:
        server.register_meta("555", "token")
        yield server


def provider(fake, timeout: float):
    credentials = {"phone_number_id": "555", "business_account_id": "b", "access_token": "token",
                   "app_secret": "s", "graph_base_url": fake.url}
    return get_provider("whatsapp_cloud", credentials, http=httpx.Client(timeout=timeout))


def test_a_timeout_while_waiting_for_the_answer_may_have_delivered(fake):
    fake.delay_next(1.0)
    with pytest.raises(ProviderError) as error:
        provider(fake, 0.3).send_text(to="+5511987654321", text="hi", send_key="k1")
    assert error.value.maybe_delivered and error.value.retryable
    assert fake.wait_for_accepted(1, timeout=3)  # the provider did take it


def test_a_refused_connection_was_certainly_not_delivered(fake):
    closed = get_provider("whatsapp_cloud", {
        "phone_number_id": "555", "business_account_id": "b", "access_token": "token", "app_secret": "s",
        "graph_base_url": "http://127.0.0.1:9",
    }, http=httpx.Client(timeout=1))
    with pytest.raises(ProviderError) as error:
        closed.send_text(to="+5511987654321", text="hi", send_key="k2")
    assert error.value.retryable and not error.value.maybe_delivered
