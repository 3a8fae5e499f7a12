"""Huey tasks that run inside one company's schema.

Every tenant task takes the schema name as its first argument, checked when the task is queued and
again when it runs; `public` is refused, so a model present in both schemas (users) can never be
written to the wrong one. A tenant task queues in its company's lane (`conversa.fairqueue`), so a
company's burst takes turns with every other company's work instead of going before it.
"""

import functools
import time

from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context
from huey.api import Task, TaskWrapper
from huey.contrib.djhuey import HUEY, close_db
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXECUTING

from conversa import metrics
from conversa.fairqueue import URGENT
from conversa.prepared import PreparedRead
from conversa.schemas import SCHEMA_NAME_RE

# When each running task started, by task id (a worker runs several at once in threads).
_started: dict[str, float] = {}


@HUEY.signal(SIGNAL_EXECUTING)
def _task_started(signal, task, *args, **kwargs):
    _started[task.id] = time.perf_counter()


@HUEY.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
def _task_finished(signal, task, *args, **kwargs):
    started = _started.pop(task.id, None)
    if started is not None:
        outcome = "complete" if signal == SIGNAL_COMPLETE else "error"
        metrics.observe(metrics.TASK_DURATION, time.perf_counter() - started, task=task.name, outcome=outcome)


# Every task asks it: compiled once (`conversa.prepared`), read each time.
_company_with_schema = PreparedRead(
    lambda schema_name: get_tenant_model().objects.filter(schema_name=schema_name)
    .order_by().values_list("pk")[:1],
    schema_name="",
)


class TenantSchemaRequired(ValueError):
    pass


def check_tenant_schema(schema_name) -> str:
    from django.conf import settings

    if not isinstance(schema_name, str) or not SCHEMA_NAME_RE.match(schema_name):
        raise TenantSchemaRequired(f"a tenant task needs a schema name first, got {schema_name!r}")
    if schema_name in (get_public_schema_name(), settings.TENANT_BASE_SCHEMA):
        raise TenantSchemaRequired(f"a tenant task cannot run in {schema_name!r}")
    return schema_name


class TenantTask(Task):
    @property
    def fair_lane(self) -> str | None:
        """The company's schema: the queue serves each company's tasks in turn."""
        return self.args[0] if self.args else self.kwargs.get("schema_name")


class TenantTaskWrapper(TaskWrapper):
    task_base = TenantTask

    def s(self, *args, **kwargs):
        check_tenant_schema(args[0] if args else kwargs.get("schema_name"))
        return super().s(*args, **kwargs)

    def schedule(self, args=None, kwargs=None, **options):
        first = args[0] if isinstance(args, tuple | list) and args else (kwargs or {}).get(
            "schema_name"
        )
        check_tenant_schema(first)
        return super().schedule(args, kwargs, **options)


def tenant_task(*, retries=0, retry_delay=0, retry_backoff=0, name=None, urgent=False, **settings):
    """Decorate `fn(schema_name, ...)` as a Huey task running in that schema.

    `urgent`: someone waits for it (a customer for the bot's reply, a conversation for its agent):
    it goes before its company's other queued tasks (`conversa.fairqueue.URGENT`)."""
    if urgent:
        settings["default_priority"] = URGENT

    def decorator(fn):
        @functools.wraps(fn)
        def run_in_schema(schema_name, *args, **kwargs):
            # Sentry's Huey integration adds trace headers when the enqueuing process has Sentry on;
            # a worker without it must not pass them to the task.
            kwargs.pop("sentry_headers", None)
            check_tenant_schema(schema_name)
            if not _company_with_schema.all(schema_name=schema_name):
                raise TenantSchemaRequired(f"no company has the schema {schema_name!r}")
            with schema_context(schema_name):
                return fn(schema_name, *args, **kwargs)

        wrapper = TenantTaskWrapper(
            HUEY, close_db(run_in_schema), name=name or f"{fn.__module__}.{fn.__name__}",
            default_retries=retries, default_retry_delay=retry_delay,
            default_retry_backoff=retry_backoff, **settings,
        )
        # For callers already inside the schema that run many tasks' bodies in a row (the
        # periodic sweeps): no company lookup, no schema switch, no connection check per call.
        wrapper.run_in_schema = fn
        return wrapper

    return decorator
