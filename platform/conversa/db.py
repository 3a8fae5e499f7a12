"""Transactions that PostgreSQL may abort to break a lock conflict, retried whole instead of failing."""

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction

logger = logging.getLogger("conversa.db")

T = TypeVar("T")

# deadlock_detected, serialization_failure: PostgreSQL rolled the transaction back, nothing of it
# was kept, and the same work is expected to succeed when done again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_retryable(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def atomic_retrying(work: Callable[[], T], *, attempts: int = 4) -> T:
    """Run `work()` in a transaction of its own; when PostgreSQL aborts it as a deadlock victim (or a
    serialization failure), run it again from the start, up to `attempts` times in all.

    `work` must be safe to run again: it sees nothing of an aborted attempt. Inside an outer
    transaction no retry is possible (the outer one is aborted too), so the error propagates there.
    """
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return work()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            logger.warning("transaction aborted (%s), attempt %d of %d: retrying",
                           exc.__cause__.sqlstate, attempt, attempts)
            # A little jitter, so two victims of the same conflict do not meet again in step.
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")
