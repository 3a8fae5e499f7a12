"""What flows does when conversations publish: start on a trigger, feed the customer's answers,
stop when an agent takes over.

These run in the process that committed the events (the webhook drain, for inbound messages),
right after the commit. Taking a conversation for a flow (`runner.session_claim`: status `bot`) is
done per event, because the bus calls per-event subscribers before batch subscribers such as
routing: a conversation a flow takes is already out of the queue when routing looks at it. The
steps themselves (sending the bot's replies) run per batch: the first few run right here, so the
replies are queued in the same drain cycle as the messages they answer; the rest of a burst goes to
the workers a few conversations per task, in parallel, instead of holding up the drain and the
company's next messages behind one thread. Steps that run together send their replies' events as
one batch (the subscribers read rows once for them all): a task per conversation cost about half
again as many statements per step.
"""

import logging
from collections import defaultdict
from contextlib import nullcontext

from django.db import connection
from django_tenants.utils import schema_context

from apps.contacts.events import CONTACT_ERASED
from apps.conversations import events as conversation_events
from apps.conversations.models import Conversation, Message
from apps.flows import runner, triggers
from apps.flows.in_use import flows_in_use
from apps.flows.models import FlowSession
from apps.flows.tasks import flow_sessions_step
from conversa.events import Event, delivered_together, subscribe, subscribe_batch

logger = logging.getLogger("conversa.flows")

# Of a dispatched batch's conversations to step, this many run here, one after the other; the
# others go to workers this many per task (urgent: before the company's other queued work). At 50
# answers a second, 2 here gave the lowest latency: 4 kept the drain from its next batch longer,
# 1 spent more on tasks than it saved.
INLINE_STEPS = 2


def _in_schema(schema_name: str):
    """The event's schema (the drain and most services publish from inside it already)."""
    return nullcontext() if connection.schema_name == schema_name else schema_context(schema_name)


@subscribe
def flows_on_conversation_events(event: Event) -> None:
    handler = HANDLERS.get(event.name)
    if handler is not None and (
        event.name != conversation_events.MESSAGE_CREATED
        # The customer's are the batch subscriber's; the bot's own take nothing over.
        or event.data.get("direction") != "inbound" and event.data.get("sender") != "bot"
    ):
        with _in_schema(event.schema_name):
            if flows_in_use():
                handler(event.data)


def on_conversation_created(data: dict) -> None:
    conversation = Conversation.objects.filter(pk=data["conversation_id"]).first()
    if conversation is None or conversation.status != Conversation.Status.QUEUED or conversation.assignee_id:
        return
    def texts() -> list[str]:
        inbound = Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        return list(inbound.values_list("text", flat=True)[:20])

    found = triggers.flow_for_new_conversation(conversation.inbox_id, texts)
    if found is not None:
        flow, trigger = found
        runner.session_claim(flow=flow, conversation=conversation, trigger=trigger)


def on_message_created(data: dict) -> None:
    _agent_replied(data["message_id"])


def _agent_replied(message_id: int) -> None:
    """A person answering in a bot conversation takes it over (even where replying does not
    assign, the bot must stop talking over them)."""
    conversation_id = (
        Message.objects.filter(
            pk=message_id,
            sender_type=Message.Sender.AGENT,
            conversation__status=Conversation.Status.BOT,
        )
        .values_list("conversation_id", flat=True)
        .first()
    )
    if conversation_id is not None:
        runner.session_end(conversation_id=conversation_id, reason="agent")


def on_assigned(data: dict) -> None:
    if Conversation.objects.filter(pk=data["conversation_id"], assignee__isnull=False).exists():
        runner.session_end(conversation_id=data["conversation_id"], reason="agent")


def on_status_changed(data: dict) -> None:
    if data.get("from") == Conversation.Status.BOT and data.get("to") != Conversation.Status.BOT:
        reason = "closed" if data.get("to") == Conversation.Status.CLOSED else "agent"
        runner.session_end(conversation_id=data["conversation_id"], reason=reason)


HANDLERS = {
    conversation_events.CONVERSATION_CREATED: on_conversation_created,
    conversation_events.MESSAGE_CREATED: on_message_created,
    conversation_events.CONVERSATION_ASSIGNED: on_assigned,
    conversation_events.CONVERSATION_STATUS_CHANGED: on_status_changed,
}


@subscribe_batch(awaited=True)
def flows_step_after_inbound(batch: list[Event]) -> None:
    """Step every conversation of the batch whose session was just claimed or got a message;
    start keyword flows in waiting conversations."""
    by_schema: dict[str, dict[int, int | None]] = defaultdict(dict)
    for event in batch:
        if event.name == conversation_events.CONVERSATION_CREATED:
            by_schema[event.schema_name].setdefault(event.data["conversation_id"], None)
        elif event.name == conversation_events.MESSAGE_CREATED and event.data.get("direction") == "inbound":
            by_schema[event.schema_name][event.data["conversation_id"]] = event.data["message_id"]
    for schema_name, touched in by_schema.items():
        with _in_schema(schema_name):
            if not flows_in_use():
                continue
            steps = _conversations_to_step(touched)
            for start in range(INLINE_STEPS, len(steps), INLINE_STEPS):
                flow_sessions_step(schema_name, steps[start:start + INLINE_STEPS])
            with delivered_together():
                for conversation_id in steps[:INLINE_STEPS]:
                    runner.session_step(conversation_id=conversation_id)


def _conversations_to_step(touched: dict[int, int | None]) -> list[int]:
    """Those with a running session, and those a keyword starts a flow in (claimed here)."""
    running = set(
        FlowSession.objects.filter(
            conversation_id__in=list(touched),
            status=FlowSession.Status.RUNNING,
        ).values_list("conversation_id", flat=True)
    )
    others = [pk for pk, message_id in touched.items() if pk not in running and message_id]
    keyword_flows = triggers.keyword_flows() if others else []
    if keyword_flows:
        waiting = Conversation.objects.filter(
            pk__in=others,
            status=Conversation.Status.QUEUED,
            assignee__isnull=True,
        ).only("pk", "inbox_id", "status")
        texts = dict(Message.objects.filter(pk__in=[touched[pk] for pk in others]).values_list("pk", "text"))
        for conversation in waiting:
            message_id = touched[conversation.pk]
            flow = triggers.flow_for_keyword(
                keyword_flows, conversation.inbox_id, texts.get(message_id) or ""
            )
            if flow is not None and runner.session_claim(
                flow=flow,
                conversation=conversation,
                trigger=flow.trigger_type,
                consumed_message_id=message_id,
            ):
                running.add(conversation.pk)
    return [pk for pk in touched if pk in running]


@subscribe
def flows_forget_erased(event: Event) -> None:
    """An erased contact's answers to bots (emails, order numbers…) go with the rest of their data."""
    if event.name == CONTACT_ERASED:
        with _in_schema(event.schema_name):
            FlowSession.objects.filter(conversation_id__in=event.data["conversation_ids"]).update(variables={})
