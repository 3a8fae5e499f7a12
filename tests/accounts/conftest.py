"""Fixtures of the account email flows: a real SMTP server, an admin's client, committed callbacks."""

import pytest

from tests.fixtures.smtp import mailbox, smtp_server  # noqa: F401 (fixtures)


@pytest.fixture
def admin_api(api, alpha):
    tokens = api(alpha).login(f"admin@{alpha.slug}.example.com")
    return api(alpha, token=tokens["access"])


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """`sent(fn, *args)`: call it and run what it queued after commit (the email task, inline)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture(autouse=True)
def roomy_reset_throttle(settings):
    """Every test asks for resets from 127.0.0.1; the throttle's own test lowers these again."""
    settings.PASSWORD_RESET_PER_IP_PER_HOUR = 100_000
    settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR = 100_000
