"""What outbound webhooks hear: the committed events of conversations, contacts and campaigns.

Per batch and company: nothing at all for a company without endpoints (a mark in Redis,
`apps.webhooks.in_use`); else one query for the active endpoints, one per kind of entity for the data,
one insert of all the deliveries (stored before anything is sent), then one drain task queued per
endpoint that got some.
"""

import datetime as dt
import logging
import uuid
from collections import defaultdict
from contextlib import nullcontext

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.contacts.events import CONTACT_ERASED
from apps.webhooks.delivery import endpoint_wake_on_commit
from apps.webhooks.in_use import webhooks_in_use
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.payloads import CONTACT_KINDS, CONVERSATION_KINDS, EVENTS, MESSAGE_KINDS, events_data
from conversa.events import Event, subscribe, subscribe_batch

logger = logging.getLogger("conversa.webhooks")


@subscribe_batch
def webhooks_hear(batch: list[Event]) -> None:
    by_schema = defaultdict(list)
    for event in batch:
        if event.name in EVENTS:
            by_schema[event.schema_name].append(event)
    for schema_name, events in by_schema.items():
        try:
            if not webhooks_in_use(schema_name):
                continue
            with _in_schema(schema_name):
                deliveries_store(events)
        except Exception:
            logger.exception("storing webhook deliveries failed in %s", schema_name)


def _in_schema(schema_name: str):
    return nullcontext() if connection.schema_name == schema_name else schema_context(schema_name)


def deliveries_store(events: list[Event]) -> list[Delivery]:
    """One delivery per event and active endpoint subscribed to it; their drains queued on commit."""
    endpoints = [endpoint for endpoint in Endpoint.objects.filter(active=True)
                 if set(endpoint.events) & {event.name for event in events}]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = []
    for event, data in zip(events, events_data(events), strict=True):
        if data is None:
            continue
        for endpoint in endpoints:
            if event.name in endpoint.events:
                deliveries.append(delivery_for(endpoint, event.name, data, now))
    if not deliveries:
        return []
    with transaction.atomic():
        Delivery.objects.bulk_create(deliveries)
        for endpoint_id in {delivery.endpoint_id for delivery in deliveries}:
            endpoint_wake_on_commit(endpoint_id)
    return deliveries


def delivery_for(endpoint: Endpoint, event: str, data: dict, now: dt.datetime) -> Delivery:
    key = uuid.uuid4()
    return Delivery(
        endpoint=endpoint, key=key, event=event, next_attempt_at=now,
        payload={"id": str(key), "event": event, "created_at": now.isoformat(), "data": data},
    )


@subscribe
def webhooks_forget_erased(event: Event) -> None:
    """Deliveries carrying an erased contact's data (sent or not) are deleted with it: the log
    must not keep what the erasure removed, and what was not sent yet is no longer to be sent."""
    if event.name != CONTACT_ERASED:
        return
    conversations, contacts = event.data["conversation_ids"], event.data["contact_ids"]
    with _in_schema(event.schema_name):
        Delivery.objects.filter(
            Q(event__in=CONVERSATION_KINDS, payload__data__id__in=conversations)
            | Q(event__in=MESSAGE_KINDS, payload__data__conversation_id__in=conversations)
            | Q(event__in=CONTACT_KINDS, payload__data__id__in=contacts)
        ).delete()
