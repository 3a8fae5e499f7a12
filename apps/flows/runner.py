"""Live sessions: a published flow talking in a conversation, one step at a time.

Every step (a start, the customer's answers, a delay's end, an http call's outcome) runs in one
transaction holding the session's row lock, so two workers — or two messages of one customer
arriving together — never run a conversation's flow twice at once: the second waits, then finds the
session where the first left it. A step takes every inbound message the session has not seen yet,
in order, so whichever worker runs first answers them all and the other finds nothing new.
Replies go out through the outbound service (sender `bot`): a step's replies are written together
when it saves, before anything that settles the conversation, and delivered in order after commit.
"""

import datetime as dt
import logging

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, QuerySet, Subquery
from django.utils import timezone

from apps.contacts.models import Contact
from apps.contacts.services import contact_add_tags, contact_update
from apps.conversations.models import Conversation, Message
from apps.conversations.outbound import bot_replies_send
from apps.conversations.services import (
    conversation_close,
    conversation_set_bot_context,
    conversation_set_labels,
    conversation_set_status,
    conversation_start_bot,
    conversation_transfer,
)
from apps.flows import engine
from apps.flows.engine import HttpResult, State
from apps.flows.http import http_call
from apps.flows.models import Flow, FlowSession, FlowStep
from apps.teams.hours import is_open
from apps.teams.models import Team
from conversa.errors import DomainError
from conversa.prepared import PreparedRead

logger = logging.getLogger("conversa.flows")

FIRST_NAME = "first_name"


def contact_value(contact, name: str) -> str:
    """`{{contact.<name>}}` of a contact: its fields, `first_name`, `custom.<key>`."""
    if name.startswith("custom."):
        value = (contact.custom_fields or {}).get(name.removeprefix("custom."))
        return "" if value is None else str(value)
    if name == FIRST_NAME:
        return (contact.name or "").split(" ")[0]
    if name == "company":
        return contact.company_name or ""
    value = (
        getattr(contact, name, "")
        if name in ("name", "phone", "email", "city", "country", "lead_status", "company_name", "notes")
        else ""
    )
    return "" if value is None else str(value)


def contact_changes(name: str, value: str) -> dict:
    if name.startswith("custom."):
        return {"custom_fields": {name.removeprefix("custom."): value}}
    return {name: value}


class LiveRuntime:
    """The engine's world in a real conversation (called inside the step's transaction)."""

    def __init__(self, session: FlowSession, conversation: Conversation):
        self.session, self.conversation = session, conversation
        self.replies: list[str] = []
        self.visited: list[str] = []
        self.handoff_team: int | None = None
        self.close = False
        self.http_pending = False

    def say(self, text: str, node: dict) -> None:
        self.replies.append(text[:4096])

    def send_replies(self, context: dict) -> None:
        """Queue what the step said, and store the flow's state with the conversation (`_save`
        does, before anything settles the conversation). A refusal (blocked contact, quota, daily
        limit) costs replies, not the session."""
        replies, self.replies = self.replies, []
        bot_replies_send(conversation=self.conversation, texts=replies, bot_context=context)

    def contact_value(self, name: str) -> str:
        return contact_value(self.conversation.contact, name)

    def _write_contact(self, write) -> None:
        try:
            with transaction.atomic():
                self.conversation.contact = write(self.conversation.contact)
        except DomainError as exc:
            logger.info("flow could not update contact %s: %s", self.conversation.contact_id, exc.code)

    def set_contact(self, name: str, value: str) -> None:
        self._write_contact(lambda contact: contact_update(contact=contact, **contact_changes(name, value)))

    def add_tag(self, tag: str) -> None:
        self._write_contact(lambda contact: contact_add_tags(contact=contact, tags=[tag]))

    def add_label(self, label: str) -> None:
        try:
            with transaction.atomic():
                conversation_set_labels(conversation=self.conversation, add=[label[:50]], actor=None)
        except DomainError as exc:
            logger.info("flow could not label conversation %s: %s", self.conversation.pk, exc.code)

    def hours_open(self, team_id: int) -> bool:
        team = Team.objects.filter(pk=team_id).first()
        return team is not None and is_open(team.business_hours, timezone.now())

    def http(self, node_id: str, request: dict) -> HttpResult | None:
        self.http_pending = True  # made by `session_http` in a worker, not in the drain's step
        return None

    def handoff(self, team_id: int | None) -> None:
        self.handoff_team = team_id

    def finish(self, close: bool) -> None:
        self.close = close

    def visit(self, node_id: str) -> None:
        self.visited.append(node_id)

    def wait(self, seconds: int) -> bool:
        return False


def _state(session: FlowSession) -> State:
    return State(
        node=session.node,
        waiting=session.waiting,
        variables=dict(session.variables),
        attempts=session.attempts,
    )


def _save(session: FlowSession, state: State, runtime: LiveRuntime) -> None:
    """Store where the step left the session; settle the conversation if the flow ended."""
    now = timezone.now()
    session.node, session.waiting = state.node, state.waiting
    session.variables, session.attempts = state.variables, state.attempts
    session.waiting_until = None
    session.expires_at = None
    if state.waiting == "input":
        session.expires_at = now + dt.timedelta(minutes=session.flow.timeout_minutes)
    elif state.waiting == "delay":
        seconds = session.version.graph["nodes"][state.node]["seconds"]
        session.waiting_until = now + dt.timedelta(seconds=seconds)
        _after_commit_resume(session.pk, delay=seconds)
    elif state.waiting == "http":
        _after_commit_http(session.pk)
    if runtime.visited:
        FlowStep.objects.bulk_create(
            [FlowStep(session=session, version_id=session.version_id, node=node) for node in runtime.visited]
        )
    if state.ended:
        status = {
            "end": FlowSession.Status.COMPLETED,
            "handoff": FlowSession.Status.HANDED_OFF,
        }.get(state.ended, FlowSession.Status.DROPPED)
        _end(session, status, state.ended, now)
    session.save()
    runtime.send_replies(_context(session))
    if state.ended:
        _release(
            session.conversation_id,
            team_id=runtime.handoff_team,
            close=state.ended == "end" and runtime.close,
        )


def _context(session: FlowSession) -> dict:
    return {
        "flow_id": session.flow_id,
        "session_id": session.pk,
        "version": session.version.number,
        "status": session.status,
        "node": session.node,
        "variables": session.variables,
    }


def _end(session: FlowSession, status: str, reason: str, now: dt.datetime) -> None:
    session.status, session.ended_reason, session.ended_at = status, reason, now
    session.waiting, session.waiting_until, session.expires_at = "", None, None


def _release(conversation_id: int, *, team_id: int | None = None, close: bool = False) -> None:
    """The bot lets go: closed (its work done), handed to a team's queue, back to its agent (a
    flow an agent started) or to the queue."""
    conversation = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation_id)
    if conversation.status != Conversation.Status.BOT:
        return  # someone moved it already (an agent took it)
    team = Team.objects.filter(pk=team_id).first() if team_id else None
    if team is not None:
        conversation_transfer(conversation=conversation, actor=None, team=team, reason="flow")
    elif close:
        conversation_close(conversation=conversation, actor=None, reason="flow_completed")
    else:
        status = Conversation.Status.OPEN if conversation.assignee_id else Conversation.Status.QUEUED
        conversation_set_status(conversation=conversation, status=status, actor=None)


# A step's reads, every time a customer answers a bot: compiled once (`conversa.prepared`).
_unseen_inbound_read = PreparedRead(
    lambda conversation_id, last_message_id: Message.objects.filter(
        conversation_id=conversation_id,
        direction=Message.Direction.INBOUND,
        pk__gt=last_message_id,
        deleted_at__isnull=True,
    ).order_by("pk").only("pk", "text"),
    conversation_id=0, last_message_id=0,
)


def _unseen_inbound(session: FlowSession) -> list[Message]:
    return _unseen_inbound_read.all(
        conversation_id=session.conversation_id, last_message_id=session.last_message_id or 0
    )


def _lock_contact(running: QuerySet):
    # The lookup rides in the locks' statements (subqueries): one round trip fewer per step.
    return Contact.all_objects.select_for_update().filter(
        pk=Subquery(running.values("conversation__contact_id")[:1])
    ).values_list("pk", flat=True)


def _lock_conversation(running: QuerySet):
    return Conversation.objects.select_for_update(of=("self",)).filter(
        pk=Subquery(running.values("conversation_id")[:1])
    ).values_list("pk", flat=True)


def _held_session(running: QuerySet, conversation_id):
    return (
        running.filter(conversation_id=conversation_id)  # only a session whose conversation is held
        .select_for_update(of=("self",))
        .select_related("version", "flow", "conversation__contact", "conversation__inbox")
        .defer("flow__graph")  # the draft: a step reads only its published version's
        .order_by()[:1]
    )


def _running(**filters) -> QuerySet:
    return FlowSession.objects.filter(status=FlowSession.Status.RUNNING, **filters)


# The same three statements for a conversation's session (every step), compiled once.
_STEP_LOCKS = (
    PreparedRead(lambda conversation_id: _lock_contact(_running(conversation_id=conversation_id)),
                 conversation_id=0),
    PreparedRead(lambda conversation_id: _lock_conversation(_running(conversation_id=conversation_id)),
                 conversation_id=0),
    PreparedRead(lambda conversation_id, locked: _held_session(_running(conversation_id=conversation_id),
                                                               locked),
                 conversation_id=0, locked=0),
)


def _locked_running(**filters) -> FlowSession | None:
    """The running session, locked after its contact's and conversation's rows, in that order.

    The order is the inbound path's (a customer's message locks the contact, then the
    conversation). A step updates its conversation more than once, so its commit re-checks the
    conversation's foreign keys, which takes a share lock on the contact: locking the other way
    round would deadlock with the customer's next message.
    """
    if filters.keys() == {"conversation_id"}:
        contact, conversation, session = _STEP_LOCKS
        if not contact.all(**filters):
            return None
        locked = conversation.all(**filters)
        return session.first(**filters, locked=locked[0]) if locked else None
    running = _running(**filters)
    if not list(_lock_contact(running)):
        return None
    locked = list(_lock_conversation(running))
    if not locked:
        return None
    held = list(_held_session(running, locked[0]))
    return held[0] if held else None


def session_claim(
    *,
    flow: Flow,
    conversation: Conversation,
    trigger: str,
    started_by=None,
    consumed_message_id: int | None = None,
) -> FlowSession | None:
    """Take the conversation for the flow's published version: status `bot` (out of the agents'
    queue) and a session waiting for its first step (`session_step` runs it). Quick on purpose: it
    runs where the trigger's event is dispatched, before routing looks at the conversation.

    None when the conversation already has a running session (two triggers racing: the unique
    running session per conversation lets one win). The conversation's inbound messages up to
    `consumed_message_id` (by default all of them) started the flow and are not answers.
    """
    try:
        with transaction.atomic():
            conversation = conversation_start_bot(conversation=conversation)
            if consumed_message_id is None:
                consumed_message_id = (
                    Message.objects.filter(
                        conversation=conversation, direction=Message.Direction.INBOUND
                    ).aggregate(last=Max("pk"))["last"]
                    or 0
                )
            return FlowSession.objects.create(
                flow=flow,
                version=flow.published_version,
                conversation=conversation,
                node=flow.published_version.graph["start"],
                waiting=FlowSession.Waiting.START,
                trigger=trigger,
                started_by=started_by,
                last_message_id=consumed_message_id,
            )
    except IntegrityError:
        return None


def session_step(*, conversation_id: int) -> FlowSession | None:
    """Run the conversation's session as far as it goes: its first nodes if it has not started,
    then the customer's messages it has not seen, in order. Safe to run twice or concurrently."""
    with transaction.atomic():
        session = _locked_running(conversation_id=conversation_id)
        if session is None:
            return None
        if session.waiting == FlowSession.Waiting.START:
            runtime = LiveRuntime(session, session.conversation)
            state = engine.run(session.version.graph, State(node=session.node), runtime)
            _save(session, state, runtime)
            if state.ended or not _unseen_inbound(session):
                return session
        _take_inbound(session)
    return session


def session_start(
    *,
    flow: Flow,
    conversation: Conversation,
    trigger: str,
    started_by=None,
    consumed_message_id: int | None = None,
) -> FlowSession | None:
    """Claim the conversation and run the flow to its first wait, in one transaction."""
    with transaction.atomic():
        session = session_claim(
            flow=flow,
            conversation=conversation,
            trigger=trigger,
            started_by=started_by,
            consumed_message_id=consumed_message_id,
        )
        if session is not None:
            session = session_step(conversation_id=conversation.pk)
    return session


def session_take_inbound(*, conversation_id: int) -> FlowSession | None:
    """Feed the running session the customer's messages it has not seen (`session_step`)."""
    return session_step(conversation_id=conversation_id)


def _take_inbound(session: FlowSession) -> None:
    """Under the session's lock."""
    graph = session.version.graph
    state = _state(session)
    runtime = LiveRuntime(session, session.conversation)
    for message in _unseen_inbound(session):
        session.last_message_id = message.pk
        if state.waiting != "input" or state.ended:
            continue  # during a delay or a call, or once ended: for the agents, not the bot
        state = engine.advance(graph, state, runtime, answer=message.text or "")
    _save(session, state, runtime)


def session_resume(*, session_id: int, now: dt.datetime | None = None) -> str:
    """Go on after the delay the session waits at (a task at its end, or the sweep)."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_running(pk=session_id, waiting=FlowSession.Waiting.DELAY)
        if session is None:
            return "skipped"
        if session.waiting_until and session.waiting_until > now + dt.timedelta(seconds=1):
            return "early"
        runtime = LiveRuntime(session, session.conversation)
        state = engine.resume(session.version.graph, _state(session), runtime)
        _save(session, state, runtime)
        if not state.ended and state.waiting == "input" and _unseen_inbound(session):
            _take_inbound(session)
    return "resumed"


def session_http(*, session_id: int) -> str:
    """Make the http call the session waits at and go on along its success or error branch.
    The session's lock is held during the call (bounded by the node's timeout), so nothing else
    steps the conversation meanwhile."""
    with transaction.atomic():
        session = _locked_running(pk=session_id, waiting=FlowSession.Waiting.HTTP)
        if session is None:
            return "skipped"
        graph = session.version.graph
        state = _state(session)
        runtime = LiveRuntime(session, session.conversation)
        result = http_call(engine.http_request(graph["nodes"][state.node], state, runtime))
        state = engine.resume(graph, state, runtime, result=result)
        _save(session, state, runtime)
        if not state.ended and state.waiting == "input" and _unseen_inbound(session):
            _take_inbound(session)
    return "ok" if result.ok else "error"


def session_end(*, conversation_id: int, reason: str) -> FlowSession | None:
    """Stop the conversation's running session: an agent took over ("agent"), the conversation
    closed ("closed"), the flow was deleted ("flow_deleted")."""
    with transaction.atomic():
        session = _locked_running(conversation_id=conversation_id)
        if session is None:
            return None
        status = FlowSession.Status.HANDED_OFF if reason == "agent" else FlowSession.Status.DROPPED
        _end(session, status, reason, timezone.now())
        session.save()
        conversation_set_bot_context(conversation_id=conversation_id, context=_context(session))
        _release(conversation_id)
    return session


def sessions_time_out(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Sessions whose question went unanswered for the flow's timeout: to the agents' queue."""
    now = now or timezone.now()
    ids = list(
        FlowSession.objects.filter(
            status=FlowSession.Status.RUNNING,
            waiting=FlowSession.Waiting.INPUT,
            expires_at__lt=now,
        ).values_list("pk", flat=True)[:limit]
    )
    done = 0
    for session_id in ids:
        with transaction.atomic():
            session = _locked_running(pk=session_id, waiting=FlowSession.Waiting.INPUT, expires_at__lt=now)
            if session is None:
                continue
            _end(session, FlowSession.Status.TIMED_OUT, "timeout", now)
            session.save()
            conversation_set_bot_context(conversation_id=session.conversation_id, context=_context(session))
            _release(session.conversation_id)
            done += 1
    return done


def sessions_unstarted(*, now: dt.datetime | None = None) -> list[int]:
    """Conversations whose session was claimed half a minute ago and never stepped (task lost)."""
    now = now or timezone.now()
    return list(
        FlowSession.objects.filter(
            status=FlowSession.Status.RUNNING,
            waiting=FlowSession.Waiting.START,
            started_at__lt=now - dt.timedelta(seconds=30),
        ).values_list("conversation_id", flat=True)[:500]
    )


def sessions_overdue(*, now: dt.datetime | None = None) -> tuple[list[int], list[int]]:
    """Delays past their end and http calls waiting a minute: their task was lost (worker down)."""
    now = now or timezone.now()
    running = FlowSession.objects.filter(status=FlowSession.Status.RUNNING)
    delays = list(
        running.filter(
            waiting=FlowSession.Waiting.DELAY, waiting_until__lt=now - dt.timedelta(seconds=5)
        ).values_list("pk", flat=True)[:500]
    )
    calls = list(
        running.filter(
            waiting=FlowSession.Waiting.HTTP, updated_at__lt=now - dt.timedelta(minutes=1)
        ).values_list("pk", flat=True)[:500]
    )
    return delays, calls


def _after_commit_resume(session_id: int, *, delay: float) -> None:
    from apps.flows.tasks import flow_session_resume

    schema = connection.schema_name
    transaction.on_commit(lambda: flow_session_resume.schedule((schema, session_id), delay=delay))


def _after_commit_http(session_id: int) -> None:
    from apps.flows.tasks import flow_session_http

    schema = connection.schema_name
    transaction.on_commit(lambda: flow_session_http(schema, session_id))
