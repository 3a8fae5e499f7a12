"""Run a graph against scripted customer answers without sending anything (SPEC §15.1 `simulate`).

The interpreter is the live one (`engine`), so the transcript is what a customer would get. What
differs is only the world around it: replies are written to the transcript, contact changes to a
copy of the contact, a delay passes at once, and an `http` node answers from `http_responses`
(`{node_id: {status, body}}`) when the caller gives one for it — otherwise the call is really made,
through the same guard, timeout and no-redirect rule as a live one.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from apps.flows import engine
from apps.flows.engine import HttpResult, State
from apps.flows.http import http_call
from apps.flows.runner import FIRST_NAME
from apps.teams.hours import is_open
from apps.teams.models import Team

MAX_INPUTS = 50


@dataclass
class SimulatedRuntime:
    contact: dict
    http_responses: dict
    transcript: list = field(default_factory=list)
    path: list = field(default_factory=list)
    handoff_team: int | None = None
    closed: bool | None = None

    def say(self, text: str, node: dict) -> None:
        self.transcript.append({"from": "bot", "text": text})

    def contact_value(self, name: str) -> str:
        if name == FIRST_NAME:
            return str(self.contact.get("name") or "").split(" ")[0]
        if name.startswith("custom."):
            name = name.removeprefix("custom.")
            return str((self.contact.get("custom_fields") or {}).get(name) or "")
        return str(self.contact.get(name) or "")

    def set_contact(self, name: str, value: str) -> None:
        if name.startswith("custom."):
            self.contact.setdefault("custom_fields", {})[name.removeprefix("custom.")] = value
        else:
            self.contact[name] = value

    def add_tag(self, tag: str) -> None:
        self.contact.setdefault("tags", []).append(tag)

    def add_label(self, label: str) -> None:
        self.contact.setdefault("labels", []).append(label)

    def hours_open(self, team_id: int) -> bool:
        team = Team.objects.filter(pk=team_id).first()
        return team is not None and is_open(team.business_hours, timezone.now())

    def http(self, node_id: str, request: dict) -> HttpResult:
        scripted = self.http_responses.get(node_id)
        if scripted is None:
            return http_call(request)
        status = int(scripted.get("status", 200))
        if not 200 <= status < 300:
            return HttpResult(ok=False, status=status, error=f"HTTP {status}")
        return HttpResult(ok=True, status=status, data=scripted.get("body"))

    def handoff(self, team_id: int | None) -> None:
        self.handoff_team = team_id

    def finish(self, close: bool) -> None:
        self.closed = close

    def visit(self, node_id: str) -> None:
        self.path.append(node_id)

    def wait(self, seconds: int) -> bool:
        return True


def simulate(graph: dict, *, inputs: list[str], http_responses: dict | None = None,
             contact: dict | None = None) -> dict:
    """`{transcript, variables, ended_by, path, contact}`; `ended_by` is "end", "handoff",
    "attempts" (invalid answers used up), "error", or "waiting" (the inputs ran out first)."""
    runtime = SimulatedRuntime(contact=dict(contact or {}), http_responses=dict(http_responses or {}))
    state = engine.run(graph, State(node=graph["start"]), runtime)
    for answer in inputs:
        if state.ended:
            break
        runtime.transcript.append({"from": "contact", "text": answer})
        state = engine.advance(graph, state, runtime, answer=answer)
    return {
        "transcript": runtime.transcript,
        "variables": state.variables,
        "ended_by": state.ended or "waiting",
        "path": runtime.path,
        "handoff_team_id": runtime.handoff_team,
        "contact": runtime.contact,
    }
