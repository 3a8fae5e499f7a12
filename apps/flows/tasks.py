"""Huey tasks of flows: a delay's end, an http node's call, and the minute sweep (timeouts, lost tasks)."""

from apps.flows.runner import (
    session_http,
    session_resume,
    session_step,
    sessions_overdue,
    sessions_time_out,
    sessions_unstarted,
)
from conversa.events import delivered_together
from conversa.periodic import every_minute
from conversa.tasks import tenant_task


@tenant_task(retries=2, retry_delay=1, urgent=True)
def flow_session_step(schema_name: str, conversation_id: int) -> str:
    """A conversation's step handed to a worker (a burst of them runs in parallel)."""
    session = session_step(conversation_id=conversation_id)
    return session.status if session is not None else "no session"


@tenant_task(retries=2, retry_delay=1, urgent=True)
def flow_sessions_step(schema_name: str, conversation_ids: list[int]) -> int:
    """A few conversations' steps of one drain batch, handed to a worker together: their replies'
    events go out as one batch. Returns how many had a session to step."""
    with delivered_together():
        return sum(session_step(conversation_id=pk) is not None for pk in conversation_ids)


@tenant_task(retries=2, retry_delay=5)
def flow_session_resume(schema_name: str, session_id: int) -> str:
    return session_resume(session_id=session_id)


@tenant_task()
def flow_session_http(schema_name: str, session_id: int) -> str:
    """Not retried: the call may have reached the endpoint; a failure follows the error branch."""
    return session_http(session_id=session_id)


@every_minute
@tenant_task()
def flow_sessions_sweep(schema_name: str) -> dict:
    """Time out unanswered sessions; start, resume and call what a lost task left waiting."""
    timed_out = sessions_time_out()
    delays, calls = sessions_overdue()
    unstarted = sessions_unstarted()
    for conversation_id in unstarted:
        session_step(conversation_id=conversation_id)
    for session_id in delays:
        session_resume(session_id=session_id)
    for session_id in calls:
        flow_session_http(schema_name, session_id)
    return {"timed_out": timed_out, "started": len(unstarted), "resumed": len(delays), "calls": len(calls)}
