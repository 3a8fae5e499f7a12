"""Fixtures of the reports' tests: the seeded week (tests/fixtures/reports.py) and signed-in clients."""

import pytest

from tests.fixtures.reports import seeded_week, week  # noqa: F401 (fixtures)


@pytest.fixture
def client_of(api):
    """`client_of(company, user)`: an API client signed in as `user`."""

    def make(company, user):
        return api(company, token=api(company).login(user.email)["access"])

    return make
