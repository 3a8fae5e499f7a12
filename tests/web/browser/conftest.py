"""Browser tests: one Chromium for the package, one server and worker, a fresh company per test."""

import pytest

from tests.fixtures.browser import (  # noqa: F401 (fixtures)
    CHROMIUM,
    Team,
    chromium,
    in_ci,
    make_team,
    scanning_worker,
)


def pytest_collection_modifyitems(config, items):
    """Without Chromium, skip before any server, worker or clamd is started for nothing; not in CI
    (CI=true), where the `chromium` fixture fails each of them instead."""
    if CHROMIUM.exists() or in_ci():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: deploy/bootstrap.sh installs Debian's chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def team(asgi_server, make_live_company, chromium) -> Team:  # noqa: F811
    """A committed company (unique slug) with a sandbox inbox, served by the live server and worker."""
    return make_team(asgi_server, make_live_company)
