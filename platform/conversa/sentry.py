"""Sentry set-up: errors and traces with the tenant and user as tags, no personal data."""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.huey import HueyIntegration
from sentry_sdk.integrations.redis import RedisIntegration


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float, **options) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        # Personal data stays out: the SDK's default sends no user info, cookies or bodies, and
        # frame locals (users, contacts, message texts) are turned off here.
        include_local_variables=False,
        integrations=[DjangoIntegration(), HueyIntegration(), RedisIntegration()],
        **options,
    )


def tag_tenant(schema_name: str) -> None:
    sentry_sdk.get_isolation_scope().set_tag("tenant", schema_name)


def tag_user(user_id) -> None:
    """Identify the user by id only: emails and names are personal data."""
    sentry_sdk.get_isolation_scope().set_user({"id": str(user_id)})
