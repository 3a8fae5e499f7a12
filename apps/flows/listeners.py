"""What flows does when conversations publish: start on a trigger, feed the customer's answers,
stop when an agent takes over.

These run in the process that committed the event (the webhook drain, for inbound messages), right
after the commit, so a bot's reply is queued within the same drain cycle as the message it answers.
They are per-event subscribers, which the bus calls before batch subscribers such as routing: a
conversation a flow takes is already in `bot` status when routing looks at it, so no agent gets it.
"""

import logging

from django_tenants.utils import schema_context

from apps.conversations import events as conversation_events
from apps.conversations.models import Conversation, Message
from apps.flows import runner, triggers
from conversa.events import Event, subscribe

logger = logging.getLogger("conversa.flows")


@subscribe
def flows_on_conversation_events(event: Event) -> None:
    handler = HANDLERS.get(event.name)
    if handler is not None:
        with schema_context(event.schema_name):
            handler(event.data)


def on_conversation_created(data: dict) -> None:
    conversation = Conversation.objects.filter(pk=data["conversation_id"]).select_related("inbox").first()
    if conversation is None or conversation.status != Conversation.Status.QUEUED or conversation.assignee_id:
        return
    texts = list(Message.objects.filter(
        conversation=conversation, direction=Message.Direction.INBOUND).values_list("text", flat=True)[:20])
    found = triggers.flow_for_new_conversation(conversation.inbox_id, texts)
    if found is not None:
        flow, trigger = found
        runner.session_start(flow=flow, conversation=conversation, trigger=trigger)


def on_message_created(data: dict) -> None:
    if data.get("direction") != "inbound":
        _agent_replied(data["message_id"])
        return
    row = Conversation.objects.filter(pk=data["conversation_id"]).values_list(
        "status", "assignee_id", "inbox_id").first()
    if row is None:
        return
    status, assignee_id, inbox_id = row
    if status == Conversation.Status.BOT:
        runner.session_take_inbound(conversation_id=data["conversation_id"])
    elif status == Conversation.Status.QUEUED and assignee_id is None:
        text = Message.objects.filter(pk=data["message_id"]).values_list("text", flat=True).first() or ""
        flow = triggers.flow_for_keyword(inbox_id, text)
        if flow is not None:
            conversation = Conversation.objects.get(pk=data["conversation_id"])
            runner.session_start(flow=flow, conversation=conversation, trigger=flow.trigger_type,
                                 consumed_message_id=data["message_id"])


def _agent_replied(message_id: int) -> None:
    """A person answering in a bot conversation takes it over (even where replying does not
    assign, the bot must stop talking over them)."""
    conversation_id = Message.objects.filter(
        pk=message_id, sender_type=Message.Sender.AGENT, conversation__status=Conversation.Status.BOT,
    ).values_list("conversation_id", flat=True).first()
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
