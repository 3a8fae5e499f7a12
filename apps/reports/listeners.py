"""What reports hear: each batch of committed events updates the rollups and asks for a live push.

- conversation events (created, updated, status changed, assigned): the facts of those
  conversations are written again from their rows (one read, one upsert per batch), except for an
  update that only carries a new message that is not the first response;
- `message.created`: the messages are added to the hourly and per-minute counters (one upsert
  each per batch);
- those and `agent_status.updated`, `conversation.queued`: `report.live` is pushed (coalesced).

A batch from the drain (`delivered_together`) costs the same few queries as a single event.
"""

import logging
from collections import defaultdict
from contextlib import nullcontext

from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.events import AGENT_STATUS_UPDATED
from apps.conversations import events as conversation_events
from apps.exports.events import COMPANY_RESTORED
from apps.reports.counters import messages_count
from apps.reports.facts import facts_refresh
from apps.reports.tasks import live_push_request, reports_rebuild_all
from conversa.events import Event, subscribe, subscribe_batch

logger = logging.getLogger("conversa.reports")

_CONVERSATION_EVENTS = (*conversation_events.CONVERSATION_EVENTS, conversation_events.CONVERSATION_QUEUED)
_LIVE_EVENTS = (*_CONVERSATION_EVENTS, conversation_events.MESSAGE_CREATED, AGENT_STATUS_UPDATED)


@subscribe_batch
def reports_hear(batch: list[Event]) -> None:
    conversations: dict[str, set[int]] = defaultdict(set)
    messages: dict[str, list[int]] = defaultdict(list)
    live: set[str] = set()
    for event in batch:
        if event.name in _CONVERSATION_EVENTS and "conversation_id" in event.data and _changes_facts(event):
            conversations[event.schema_name].add(event.data["conversation_id"])
        elif event.name == conversation_events.MESSAGE_CREATED:
            messages[event.schema_name].append(event.data["message_id"])
        if event.name in _LIVE_EVENTS:
            live.add(event.schema_name)
    for schema_name in sorted(set(conversations) | set(messages)):
        try:
            with _in_schema(schema_name):
                facts_refresh(conversations.get(schema_name, ()))
                messages_count(messages.get(schema_name, []))
        except Exception:
            logger.exception("report rollups failed in %s", schema_name)
    for schema_name in sorted(live):
        try:
            live_push_request(schema_name)
        except Exception:
            logger.exception("report.live push failed in %s", schema_name)


def _changes_facts(event: Event) -> bool:
    """A new message changes its conversation's facts only when it is the first response (every
    customer's and bot's message would otherwise cost a read and an upsert that change nothing)."""
    data = event.data
    with_message = data.get(conversation_events.WITH_MESSAGE)
    return not with_message or bool(data.get(conversation_events.FIRST_RESPONSE))


def _in_schema(schema_name: str):
    return nullcontext() if connection.schema_name == schema_name else schema_context(schema_name)


@subscribe
def reports_rebuild_restored(event: Event) -> None:
    if event.name == COMPANY_RESTORED:
        reports_rebuild_all(event.schema_name)
