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
