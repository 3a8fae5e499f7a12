"""Response schemas of `/api/v1/reports` (what the OpenAPI document shows)."""

import datetime as dt

from ninja import Schema
from pydantic import Field


class PeriodOut(Schema):
    from_: str = Field(alias="from", description="First day, YYYY-MM-DD")
    to: str = Field(description="Last day, YYYY-MM-DD (included)")
    tz: str


class Conversations(Schema):
    opened: int
    closed: int


class Durations(Schema):
    count: int
    median_seconds: float | None = Field(description="Within the team's business hours")
    p90_seconds: float | None


class Sla(Schema):
    met: int
    breached: int
    pending: int
    compliance: float | None = Field(
        description="met / (met + breached), of the conversations opened in the period")


class Messages(Schema):
    inbound: int
    outbound: int


class Outcome(Schema):
    outcome: str
    count: int
    value: str | None


class Csat(Schema):
    count: int
    average: float | None
    distribution: dict[str, int]


class Figures(Schema):
    conversations: Conversations
    first_response: Durations
    resolution: Durations
    sla: Sla
    messages: Messages
    outcomes: list[Outcome]
    csat: Csat


class AgentTime(Schema):
    available: int
    busy: int
    paused: int
    offline: int


class SummaryOut(Figures):
    period: PeriodOut
    agent_time: AgentTime = Field(description="Seconds in each status, of the agents in scope")


class AgentRow(Figures):
    agent_id: int | None
    name: str
    role: str | None
    status: str | None
    agent_time: AgentTime


class TeamRow(Figures):
    team_id: int | None
    name: str


class InboxRow(Figures):
    inbox_id: int
    name: str


class CampaignStats(Schema):
    total: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    skipped: int


class CampaignRates(Schema):
    delivery: float | None
    read: float | None
    failure: float | None
    reply: float | None


class CampaignRow(Schema):
    campaign_id: int
    name: str
    status: str
    inbox_id: int
    inbox: str
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    stats: CampaignStats
    replies: int
    rates: CampaignRates


class FlowRow(Schema):
    flow_id: int
    name: str
    started: int = Field(description="Sessions started in the period")
    completed: int
    handed_off: int
    dropped: int
    timed_out: int
    running: int
    completion_rate: float | None
    handoff_rate: float | None


class FlowsOut(Schema):
    period: PeriodOut
    items: list[FlowRow]
    next_cursor: str | None


class AgentsOut(Schema):
    period: PeriodOut
    items: list[AgentRow]
    next_cursor: str | None


class TeamsOut(Schema):
    period: PeriodOut
    items: list[TeamRow]
    next_cursor: str | None


class InboxesOut(Schema):
    period: PeriodOut
    items: list[InboxRow]
    next_cursor: str | None


class CampaignsOut(Schema):
    period: PeriodOut
    items: list[CampaignRow]
    next_cursor: str | None


class TrendPoint(Schema):
    at: str = Field(description="Start of the hour or day, in the period's time zone (ISO 8601)")
    value: int | float | None


class TrendsOut(Schema):
    period: PeriodOut
    metric: str
    interval: str
    points: list[TrendPoint]


class LiveAgent(Schema):
    id: int
    name: str
    status: str
    since: str


class LiveAgents(Schema):
    by_status: dict[str, int]
    items: list[LiveAgent]


class LiveQueue(Schema):
    team_id: int | None
    name: str
    size: int
    longest_wait_seconds: int


class LiveSla(Schema):
    met: int
    breached: int
    compliance: float | None


class LiveOut(Schema):
    at: str
    today: str
    tz: str
    agents: LiveAgents
    queues: list[LiveQueue]
    conversations_today: Conversations
    messages_last_hour: Messages
    sla_today: LiveSla


OUTPUTS = {"summary": SummaryOut, "agents": AgentsOut, "teams": TeamsOut, "inboxes": InboxesOut,
           "campaigns": CampaignsOut, "flows": FlowsOut}
