"""The next release's settings for the rolling-deploy test: the test ones plus an app whose tenant
migration is additive (tests/tenants/rolling_release)."""

from conversa.settings_test import *  # noqa: F403
from conversa.settings_test import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "tests.tenants.rolling_release"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.tenants.rolling_release"]
