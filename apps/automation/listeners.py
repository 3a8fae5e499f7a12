"""Hearing conversations' events after commit and queueing rule evaluation for them.

One task per company and batch of events (a webhook drain's batch is one task), and none when the
company has no active rule for those events (one indexed query). Events that a rule's own actions
published (`Event.cause`) are dropped here: rules never react to themselves, directly or through
another rule.
"""

import logging
import uuid
from collections import defaultdict
from contextlib import nullcontext

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.automation.models import CAUSE_PREFIX, Rule
from apps.automation.tasks import rules_run
from apps.conversations import events
from conversa.events import Event, subscribe_batch

logger = logging.getLogger("conversa.automation")

HEARD = (events.CONVERSATION_CREATED, events.MESSAGE_CREATED, events.CONVERSATION_STATUS_CHANGED)


def _item(event: Event, at: str) -> dict:
    """What the task needs of an event, and its key: the message or conversation it created, or for a
    status change (which may happen again) a key drawn once, here, that every retry reuses."""
    data = event.data
    if event.name == events.MESSAGE_CREATED:
        return {"event": event.name, "key": f"message:{data['message_id']}", "message_id": data["message_id"],
                "at": at}
    if event.name == events.CONVERSATION_CREATED:
        return {"event": event.name, "key": f"conversation:{data['conversation_id']}",
                "conversation_id": data["conversation_id"], "at": at}
    key = f"status:{data['conversation_id']}:{data.get('to')}:{uuid.uuid4().hex}"
    return {"event": event.name, "key": key, "conversation_id": data["conversation_id"], "at": at}


@subscribe_batch
def rules_after_commit(batch: list[Event]) -> None:
    at = timezone.now().isoformat()
    work: dict[str, list[dict]] = defaultdict(list)
    for event in batch:
        if event.name in HEARD and not event.cause.startswith(CAUSE_PREFIX):
            work[event.schema_name].append(_item(event, at))
    for schema_name, items in work.items():
        try:
            same = connection.schema_name == schema_name
            with nullcontext() if same else schema_context(schema_name):
                names = {item["event"] for item in items}
                wanted = Rule.objects.filter(active=True, event__in=names).exists()
            if wanted:
                rules_run(schema_name, items)
        except Exception:
            logger.exception("automation rules not queued in %s", schema_name)
