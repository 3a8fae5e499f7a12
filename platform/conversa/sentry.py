"""Sentry set-up: errors and traces with the tenant and user as tags, no personal data."""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.huey import HueyIntegration
from sentry_sdk.integrations.redis import RedisIntegration


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), HueyIntegration(), RedisIntegration()],
    )


def tag_request(*, schema_name: str, user_id=None) -> None:
    scope = sentry_sdk.get_isolation_scope()
    scope.set_tag("tenant", schema_name)
    if user_id is not None:
        scope.set_user({"id": str(user_id)})
