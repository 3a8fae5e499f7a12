"""Errors reach Sentry tagged with tenant and user id, matched by the error id, without personal data."""

import json

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from conversa.sentry import init_sentry
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


def without_source_lines(event: dict) -> dict:
    """The event minus the source code around each frame (this test's code names the user)."""
    event = json.loads(json.dumps(event))
    for exception in event.get("exception", {}).get("values", []):
        for frame in exception.get("stacktrace", {}).get("frames", []):
            for key in ("pre_context", "context_line", "post_context"):
                frame.pop(key, None)
    return event


@pytest.fixture
def sentry_events():
    transport = CapturingTransport()
    init_sentry(dsn="http://public@127.0.0.1:9/1", environment="test", traces_sample_rate=0.0,
                transport=transport)
    yield transport.events
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)


def test_an_unhandled_error_is_reported_with_tenant_and_user_but_no_personal_data(
    api, alpha, monkeypatch, sentry_events,
):
    from apps.accounts import services

    user = make_user(alpha, name="Maria Secret-Surname")
    token = api(alpha).login(user.email)["access"]

    def explode(**kwargs):
        raise RuntimeError("status store exploded")

    monkeypatch.setattr(services, "user_set_status", explode)

    response = api(alpha, token=token).post("/api/v1/auth/me/status", {"status": "busy"})

    assert response.status_code == 500
    error_id = response.json()["error"]["error_id"]
    reported = [event for event in sentry_events if event["event_id"] == error_id]
    assert len(reported) == 1
    event = reported[0]
    assert event["tags"]["tenant"] == "alpha"
    assert event["user"] == {"id": str(user.pk)}
    dumped = json.dumps(without_source_lines(event))
    assert user.email not in dumped
    assert token not in dumped
    assert "Secret-Surname" not in dumped
