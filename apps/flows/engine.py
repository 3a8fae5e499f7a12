"""The interpreter of a flow graph, shared by live sessions and the simulator.

`advance` runs from the session's node until it must wait (a menu or question for the customer's
answer, a delay, an http call the caller runs elsewhere) or the flow ends. Everything it does to the
world goes through a `Runtime`: live sessions send real messages and write contacts, the simulator
records a transcript. The same graph and inputs therefore give the same transcript in both.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from apps.flows.graph import PLACEHOLDER

# A validated graph cannot loop without waiting; this only guards a run against the impossible.
MAX_NODES_PER_RUN = 500
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{6,19}$")


@dataclass
class State:
    node: str
    waiting: str = ""  # "", "input", "delay", "http"
    variables: dict = field(default_factory=dict)
    attempts: int = 0
    # Set once the run is over: "end", "handoff", "attempts", "error".
    ended: str = ""


@dataclass
class HttpResult:
    ok: bool
    status: int = 0
    data: object = None
    error: str = ""


class Runtime(Protocol):
    def say(self, text: str, node: dict) -> None: ...
    def contact_value(self, name: str) -> str: ...
    def set_contact(self, name: str, value: str) -> None: ...
    def add_tag(self, tag: str) -> None: ...
    def add_label(self, label: str) -> None: ...
    def hours_open(self, team_id: int) -> bool: ...
    def http(self, node_id: str, request: dict) -> HttpResult | None: ...
    def handoff(self, team_id: int | None) -> None: ...
    def finish(self, close: bool) -> None: ...
    def visit(self, node_id: str) -> None: ...
    def wait(self, seconds: int) -> bool: ...


def render(text: str, state: State, runtime: Runtime) -> str:
    def value(match):
        name = match.group(1)
        if name.startswith("contact."):
            return runtime.contact_value(name.removeprefix("contact."))
        found = state.variables.get(name, "")
        return "" if found is None else str(found)

    return PLACEHOLDER.sub(value, text or "")


def menu_text(node: dict, state: State, runtime: Runtime) -> str:
    lines = [render(node["text"], state, runtime)]
    lines += [f"{number}. {option['label']}" for number, option in enumerate(node["options"], start=1)]
    return "\n".join(lines)


def _folded(text: str) -> str:
    """Case and accents ignored: "Órdenes" answers "ordenes"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def menu_choice(node: dict, answer: str) -> int | None:
    """The option an answer picks: its number, or its label (case and accents ignored)."""
    text = _folded(answer).rstrip(".)")
    if text.isdigit() and 1 <= int(text) <= len(node["options"]):
        return int(text) - 1
    for index, option in enumerate(node["options"]):
        if _folded(option["label"]) == text:
            return index
    return None


def validated(validation: dict, answer: str):
    """The stored value of a valid answer, or None."""
    kind, text = validation.get("type", "text"), answer.strip()
    if not text:
        return None
    if kind == "text":
        return text
    if kind == "number":
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "email":
        try:
            validate_email(text)
        except ValidationError:
            return None
        return text.lower()
    if kind == "phone":
        return re.sub(r"[ ()-]", "", text) if PHONE.match(text) else None
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        day, _, rest = text.partition("/")
        month, _, year = rest.partition("/")
        try:
            return dt.date(int(year), int(month), int(day)).isoformat()  # 31/12/2026
        except ValueError:
            return None
    if kind == "regex":
        return text if re.fullmatch(validation["pattern"], text) else None
    if kind == "options":
        for option in validation["options"]:
            if _folded(option) == _folded(text):
                return option
    return None


def _compare(op: str, actual, expected) -> bool:
    actual_text = "" if actual is None else str(actual)
    if op == "exists":
        return actual_text != ""
    if op == "empty":
        return actual_text == ""
    expected_text = str(expected)
    if op in ("gt", "lt"):
        try:
            left, right = Decimal(actual_text.replace(",", ".")), Decimal(expected_text.replace(",", "."))
        except InvalidOperation:
            return False
        return left > right if op == "gt" else left < right
    if op == "matches":
        return re.search(expected_text, actual_text) is not None
    left, right = _folded(actual_text), _folded(expected_text)
    return {
        "eq": left == right,
        "ne": left != right,
        "contains": right in left,
        "starts_with": left.startswith(right),
    }[op]


def condition_branch(node: dict, state: State, runtime: Runtime) -> str | None:
    for branch in node["branches"]:
        rule = branch["if"]
        if rule["source"] == "business_hours":
            is_open = runtime.hours_open(rule["team_id"])
            if is_open == (rule.get("op", "open") == "open"):
                return branch["next"]
            continue
        if rule["source"] == "variable":
            actual = state.variables.get(rule["name"])
        else:
            actual = runtime.contact_value(rule["name"])
        expected = render(str(rule.get("value", "")), state, runtime)
        if _compare(rule["op"], actual, expected):
            return branch["next"]
    return node.get("else")


def http_request(node: dict, state: State, runtime: Runtime) -> dict:
    body = node.get("body")
    if isinstance(body, str):
        body = render(body, state, runtime)
    elif body is not None:
        body = _render_json(body, state, runtime)
    return {
        "method": node.get("method", "GET"),
        "url": render(node["url"], state, runtime),
        "headers": {
            name: render(value, state, runtime) for name, value in (node.get("headers") or {}).items()
        },
        "body": body,
        "timeout": node.get("timeout", 5),
    }


def _render_json(value, state, runtime):
    if isinstance(value, str):
        return render(value, state, runtime)
    if isinstance(value, dict):
        return {key: _render_json(item, state, runtime) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_json(item, state, runtime) for item in value]
    return value


def pick(data, path: str):
    """`data.items.0.id` out of a decoded JSON response; None when the path is not there."""
    current = data
    for part in [part for part in path.split(".") if part]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return None
    return current


def apply_http_result(node: dict, state: State, result: HttpResult) -> str | None:
    """Store the mapped fields of a successful call; returns the branch to follow."""
    if not result.ok:
        state.variables["http_error"] = result.error or f"HTTP {result.status}"
        return node.get("error")
    for name, path in (node.get("map") or {}).items():
        value = pick(result.data, path)
        state.variables[name] = (
            value if isinstance(value, str | int | float | bool) or value is None else str(value)
        )
    return node.get("next")


def advance(graph: dict, state: State, runtime: Runtime, answer: str | None = None) -> State:
    """Take the customer's `answer` (if the session waits for one) and run until the next wait."""
    nodes = graph["nodes"]
    if state.waiting == "input":
        if answer is None:
            return state
        node = nodes[state.node]
        following = _answer(node, state, runtime, answer)
        if following is False:
            return state  # asked again
        state.waiting, state.attempts = "", 0
        if following is None:
            state.ended = state.ended or "end"
            runtime.finish(close=state.ended != "attempts")
            return state
        state.node = following
    elif state.waiting in ("delay", "http"):
        return state  # only the resume (task) moves a session on from these
    return run(graph, state, runtime)


def resume(graph: dict, state: State, runtime: Runtime, result: HttpResult | None = None) -> State:
    """Go on after a delay has passed, or with the outcome of the http call the session waits for."""
    node = graph["nodes"][state.node]
    if state.waiting == "delay":
        following = node.get("next")
    elif state.waiting == "http":
        following = apply_http_result(node, state, result or HttpResult(ok=False, error="no response"))
    else:
        return state
    state.waiting = ""
    if following is None:
        state.ended = "end"
        runtime.finish(close=True)
        return state
    state.node = following
    return run(graph, state, runtime)


def _answer(node: dict, state: State, runtime: Runtime, answer: str):
    """The node that follows a valid answer (None: the flow ends there), or False: asked again."""
    if node["type"] == "menu":
        index = menu_choice(node, answer)
        if index is not None:
            if node.get("variable"):
                state.variables[node["variable"]] = node["options"][index]["label"]
            return node["options"][index]["next"]
    else:
        value = validated(node.get("validation") or {"type": "text"}, answer)
        if value is not None:
            state.variables[node["variable"]] = value
            if node.get("save_to"):
                runtime.set_contact(node["save_to"], str(value))
            return node.get("next")
    state.attempts += 1
    if state.attempts >= node.get("attempts", 3):
        if node.get("error"):
            return node["error"]
        state.ended = "attempts"
        return None
    prompt = render(node.get("invalid_text") or "", state, runtime)
    again = (
        menu_text(node, state, runtime) if node["type"] == "menu" else render(node["text"], state, runtime)
    )
    runtime.say(f"{prompt}\n{again}" if prompt else again, node)
    return False


def run(graph: dict, state: State, runtime: Runtime) -> State:
    nodes = graph["nodes"]
    for _step in range(MAX_NODES_PER_RUN):
        node_id = state.node
        node = nodes[node_id]
        runtime.visit(node_id)
        kind = node["type"]
        following = node.get("next")
        if kind == "message":
            runtime.say(render(node["text"], state, runtime), node)
        elif kind in ("menu", "question"):
            runtime.say(
                menu_text(node, state, runtime) if kind == "menu" else render(node["text"], state, runtime),
                node,
            )
            state.waiting, state.attempts = "input", 0
            return state
        elif kind == "condition":
            following = condition_branch(node, state, runtime)
        elif kind == "set":
            for item in node["assign"]:
                value = render(item["value"], state, runtime)
                if item["target"] == "variable":
                    state.variables[item["name"]] = value
                elif item["target"] == "contact":
                    runtime.set_contact(item["name"], value)
                elif item["target"] == "tag":
                    runtime.add_tag(value)
                else:
                    runtime.add_label(value)
        elif kind == "http":
            result = runtime.http(node_id, http_request(node, state, runtime))
            if result is None:
                state.waiting = "http"  # the runtime calls it outside this run and resumes
                return state
            following = apply_http_result(node, state, result)
        elif kind == "delay":
            if not runtime.wait(node["seconds"]):
                state.waiting = "delay"
                return state
        elif kind == "handoff":
            if node.get("text"):
                runtime.say(render(node["text"], state, runtime), node)
            state.ended = "handoff"
            runtime.handoff(node.get("team_id"))
            return state
        elif kind == "end":
            if node.get("text"):
                runtime.say(render(node["text"], state, runtime), node)
            state.ended = "end"
            runtime.finish(close=node.get("close", True))
            return state
        if not following:
            state.ended = "end"
            runtime.finish(close=True)
            return state
        state.node = following
    state.ended = "error"
    runtime.finish(close=False)
    return state
