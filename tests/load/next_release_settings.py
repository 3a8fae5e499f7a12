"""The next release's settings for `tenants.py`: the product's, plus an app whose tenant migration is
additive (tests/tenants/rolling_release, the rolling-deploy test's), to time one migration applied
to every company."""

from conversa.settings import *  # noqa: F403
from conversa.settings import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "tests.tenants.rolling_release"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.tenants.rolling_release"]
