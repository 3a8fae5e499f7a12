"""Background work of the inbox automations and the SLA, and the listener that queues it.

After a commit, one task per company and batch of events (a webhook drain's batch is one task, not
one per message; none when one query finds nothing set up for them) greets new conversations,
starts their SLA deadlines and answers customers who write while their team is closed; a snooze
schedules its wake-up for its time, and each deadline a check for the second it passes. The
minute's sweeps are the backstop of those timed tasks (lost with a Redis restart, say) and close
idle conversations.
"""

import datetime as dt
from collections import defaultdict
from contextlib import nullcontext

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.conversations import automations, events, sla
from apps.conversations.models import Conversation
from conversa.events import Event, subscribe_batch
from conversa.periodic import every_minute
from conversa.tasks import tenant_task


@subscribe_batch
def automate_after_commit(batch: list[Event]) -> None:
    work: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for event in batch:
        if event.name == events.CONVERSATION_CREATED:
            work[event.schema_name]["created"].append(event.data["conversation_id"])
        elif event.name == events.CONVERSATION_QUEUED:
            work[event.schema_name]["queued"].append(event.data["conversation_id"])
        elif event.name == events.MESSAGE_CREATED and event.data.get("direction") == "inbound":
            work[event.schema_name]["inbound"].append(event.data["message_id"])
            work[event.schema_name]["written_to"].append(event.data["conversation_id"])
        elif (
            event.name == events.CONVERSATION_STATUS_CHANGED and event.data.get("from") == "closed"
            and event.data.get("to") in Conversation.ACTIVE_STATUSES
        ):
            work[event.schema_name]["reopened"].append(event.data["conversation_id"])
        elif event.name == events.CONVERSATION_SNOOZED:
            until = dt.datetime.fromisoformat(event.data["until"])
            snooze_wake.schedule(args=(event.schema_name, event.data["conversation_id"]), eta=until)
    for schema_name, lists in work.items():
        # The publisher's schema as a rule (the drain's, a request's): no switch, no extra statement.
        same = connection.schema_name == schema_name
        with nullcontext() if same else schema_context(schema_name):
            wanted = automations.worth_a_task(
                created=lists["created"], queued=lists["queued"], written_to=lists["written_to"],
                reopened=lists["reopened"],
            )
        if wanted:
            automations_run(
                schema_name, lists["created"], lists["queued"], lists["inbound"],
                reopened=lists["reopened"], at=timezone.now().isoformat(),
            )


@tenant_task()
def automations_run(
    schema_name: str, created: list[int], queued: list[int], inbound: list[int],
    reopened: list[int] = (), at: str | None = None,
) -> None:
    """Greet the new conversations, start the SLA of those that joined a queue (and the resolution
    deadline of those reopened `at`), then answer the messages that came in while their team was
    closed (in that order: greeting first)."""
    for conversation_id in automations.greeting_candidates(created):
        automations.greeting_send(conversation_id=conversation_id)
    checks = sla.sla_start(conversation_ids=set(created) | set(queued))
    if reopened:
        reopened_at = dt.datetime.fromisoformat(at) if at else timezone.now()
        again = set(reopened) - set(checks)  # those requeued just now already count from then
        checks.update(sla.sla_restart_resolution(conversation_ids=again, at=reopened_at))
    for conversation_id, deadlines in checks.items():
        for due in deadlines:
            # A second late: a deadline has passed once the moment is strictly after it.
            sla_check.schedule(args=(schema_name, conversation_id), eta=due + dt.timedelta(seconds=1))
    for message_id in automations.offline_candidates(inbound):
        automations.offline_notice_send(message_id=message_id)


@tenant_task()
def sla_check(schema_name: str, conversation_id: int) -> int:
    return sla.sla_breaches_flag(conversation_ids=[conversation_id])


@tenant_task()
def snooze_wake(schema_name: str, conversation_id: int) -> bool:
    return automations.snooze_wake(conversation_id=conversation_id, now=timezone.now())


@every_minute
@tenant_task()
def sla_breaches_sweep(schema_name: str) -> int:
    return sla.sla_breaches_flag()


@every_minute
@tenant_task()
def snoozes_wake_sweep(schema_name: str) -> int:
    return automations.snoozes_wake_due()


@every_minute
@tenant_task()
def idle_conversations_close(schema_name: str) -> int:
    return automations.idle_conversations_close()
