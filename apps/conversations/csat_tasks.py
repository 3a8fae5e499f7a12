"""The satisfaction survey's listener and task: a conversation that closes is asked for a rating
by a worker, after the close committed (never inside the agent's request or the drain)."""

from contextlib import nullcontext

from django.db import connection
from django_tenants.utils import schema_context

from apps.conversations import csat, events
from conversa.events import Event, subscribe_batch
from conversa.tasks import tenant_task


@subscribe_batch
def ask_for_rating_after_close(batch: list[Event]) -> None:
    closed: dict[str, list[int]] = {}
    for event in batch:
        if event.name == events.CONVERSATION_STATUS_CHANGED and event.data.get("to") == "closed":
            closed.setdefault(event.schema_name, []).append(event.data["conversation_id"])
    for schema_name, conversation_ids in closed.items():
        same = connection.schema_name == schema_name
        with nullcontext() if same else schema_context(schema_name):
            wanted = csat.csat_wanted(conversation_ids)
        for conversation_id in wanted:
            csat_request(schema_name, conversation_id)


@tenant_task(retries=3, retry_delay=10)
def csat_request(schema_name: str, conversation_id: int) -> str:
    return "sent" if csat.csat_request_send(conversation_id=conversation_id) else "not sent"
