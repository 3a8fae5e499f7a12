"""The flow graph: its node types, their fields, and the validation run on every save.

    {"start": "welcome", "nodes": {"welcome": {"type": "message", "text": "Hi!", "next": "menu"}, …}}

Every problem is one detail naming its node (`field` = `graph.nodes.<id>.<key>`, `node` = the id), so
the API's 422 and the editor's per-node messages come from this one function. Besides each node's
own fields, the graph as a whole is checked: edges lead to existing nodes, every node is reachable
from `start`, a variable is defined (by a question, a menu, a `set` or an `http` mapping) on every
path before it is used, and no cycle can spin without waiting for the customer or a delay.
"""

import re
from collections.abc import Iterator

from django.utils.translation import gettext as _

NODE_TYPES = ("message", "menu", "question", "condition", "set", "http", "handoff", "delay", "end")
# Nodes that stop the run until something outside it happens: a cycle through one cannot spin.
WAITING_TYPES = ("menu", "question", "delay")
VALIDATIONS = ("text", "number", "email", "phone", "date", "regex", "options")
CONDITION_SOURCES = ("variable", "contact", "business_hours")
CONDITION_OPS = ("eq", "ne", "contains", "starts_with", "gt", "lt", "exists", "empty", "matches")
SET_TARGETS = ("variable", "contact", "tag", "label")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Contact fields a flow may write (a question's `save_to`, a `set` node); `custom.<key>` too.
CONTACT_FIELDS = ("name", "email", "company_name", "city", "notes", "lead_status")
CONTACT_VALUES = ("name", "first_name", "phone", "email", "company", "city", "country", "lead_status")

MAX_NODES = 200
MAX_OPTIONS = 10
MAX_TEXT = 4096
MAX_HTTP_TIMEOUT = 10
MAX_DELAY_SECONDS = 7 * 24 * 3600

NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def variables_in(text) -> list[str]:
    """Flow variables a template uses (`{{contact.…}}` are the contact's fields, always there)."""
    if not isinstance(text, str):
        return []
    return [name for name in PLACEHOLDER.findall(text) if not name.startswith("contact.")]


def _texts_of(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts_of(item)


def edges(node: dict) -> list[tuple[str, str, frozenset[str]]]:
    """(key, target, variables defined on the way) for each edge leaving `node`."""
    kind = node.get("type")
    found = []

    def add(key, target, defines=()):
        if isinstance(target, str) and target:
            found.append((key, target, frozenset(defines)))

    if kind in ("message", "set", "delay"):
        defines = [
            item.get("name")
            for item in node.get("assign") or []
            if isinstance(item, dict)
            and item.get("target") == "variable"
            and isinstance(item.get("name"), str)
        ]
        add("next", node.get("next"), defines if kind == "set" else ())
    elif kind == "menu":
        stored = [node["variable"]] if isinstance(node.get("variable"), str) and node["variable"] else []
        for index, option in enumerate(node.get("options") or []):
            if isinstance(option, dict):
                add(f"options.{index}.next", option.get("next"), stored)
        add("error", node.get("error"))
    elif kind == "question":
        add("next", node.get("next"), [node["variable"]] if isinstance(node.get("variable"), str) else [])
        add("error", node.get("error"))
    elif kind == "condition":
        for index, branch in enumerate(node.get("branches") or []):
            if isinstance(branch, dict):
                add(f"branches.{index}.next", branch.get("next"))
        add("else", node.get("else"))
    elif kind == "http":
        mapping = node.get("map") if isinstance(node.get("map"), dict) else {}
        add("next", node.get("next"), [name for name in mapping if isinstance(name, str)])
        add("error", node.get("error"))
    return found


def _uses(node: dict) -> list[str]:
    """Flow variables the node reads."""
    kind = node.get("type")
    used = []
    for key in ("text", "invalid_text"):
        used += variables_in(node.get(key))
    if kind == "set":
        for item in node.get("assign") or []:
            if isinstance(item, dict):
                used += variables_in(item.get("value"))
    elif kind == "http":
        for key in ("url", "headers", "body"):
            for text in _texts_of(node.get(key)):
                used += variables_in(text)
    elif kind == "condition":
        for branch in node.get("branches") or []:
            rule = branch.get("if") if isinstance(branch, dict) else None
            if (
                isinstance(rule, dict)
                and rule.get("source") == "variable"
                and rule.get("op") not in ("exists", "empty")
            ):
                used.append(rule.get("name"))
            if isinstance(rule, dict):
                used += variables_in(rule.get("value"))
    return [name for name in used if isinstance(name, str)]


class _Problems:
    def __init__(self):
        self.details: list[dict] = []

    def add(self, node_id: str | None, key: str, message: str) -> None:
        field = "graph" + (f".nodes.{node_id}" if node_id else "") + (f".{key}" if key else "")
        text = (
            _("Node “%(node)s”: %(message)s") % {"node": node_id, "message": message} if node_id else message
        )
        self.details.append({"field": field, "message": text, **({"node": node_id} if node_id else {})})


def validate_graph(graph, *, team_ids: set[int] | None = None) -> list[dict]:
    """Every problem of `graph`, as 422 details; an empty list when it can be published.

    `team_ids`, when given, are the company's teams (handoff and business-hours nodes name one).
    """
    problems = _Problems()
    if not isinstance(graph, dict):
        problems.add(None, "", _("The graph must be an object with “start” and “nodes”."))
        return problems.details
    nodes = graph.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        problems.add(None, "nodes", _("Add at least one node."))
        return problems.details
    if len(nodes) > MAX_NODES:
        problems.add(None, "nodes", _("At most %(max)d nodes.") % {"max": MAX_NODES})
        return problems.details
    start = graph.get("start")
    if not isinstance(start, str) or start not in nodes:
        problems.add(None, "start", _("The start must name one of the nodes."))
    for node_id, node in nodes.items():
        if not NODE_ID.match(node_id):
            problems.add(node_id, "", _("Use 1 to 64 letters, digits, “-” or “_” for a node id."))
        elif not isinstance(node, dict):
            problems.add(node_id, "", _("A node must be an object."))
        elif node.get("type") not in NODE_TYPES:
            problems.add(
                node_id,
                "type",
                _("Unknown node type “%(type)s”; use one of %(types)s.")
                % {"type": node.get("type"), "types": ", ".join(NODE_TYPES)},
            )
        else:
            _check_node(problems, node_id, node, team_ids)
    if problems.details:
        return problems.details
    for node_id, node in nodes.items():
        for key, target, _defines in edges(node):
            if target not in nodes:
                problems.add(
                    node_id, key, _("Leads to “%(target)s”, which is not a node.") % {"target": target}
                )
    if problems.details or start not in nodes:
        return problems.details
    reachable = _reachable(nodes, start)
    for node_id in nodes:
        if node_id not in reachable:
            problems.add(node_id, "", _("Unreachable: no path from the start leads here."))
    _check_loops(problems, nodes, reachable)
    _check_variables(problems, nodes, start, reachable)
    return problems.details


def _reachable(nodes: dict, start: str) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for _key, target, _defines in edges(nodes[stack.pop()]):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _check_loops(problems: _Problems, nodes: dict, reachable: set[str]) -> None:
    """A cycle must pass a node that waits (menu, question, delay), or it runs for ever."""
    for component in _cycles(nodes, reachable):
        if not any(nodes[node_id]["type"] in WAITING_TYPES for node_id in component):
            first = sorted(component)[0]
            problems.add(
                first,
                "next",
                _("Loops through %(nodes)s without waiting for the customer or a delay.")
                % {"nodes": ", ".join(sorted(component))},
            )


def _cycles(nodes: dict, reachable: set[str]) -> list[set[str]]:
    """Strongly connected components that hold a cycle (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(reachable):
        if root in index:
            continue
        work = [(root, iter([target for _k, target, _d in edges(nodes[root])]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node_id, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter([t for _k, t, _d in edges(nodes[target])])))
                    advanced = True
                    break
                if target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node_id])
            if low[node_id] == index[node_id]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node_id:
                        break
                self_loop = any(t == node_id for _k, t, _d in edges(nodes[node_id]))
                if len(component) > 1 or self_loop:
                    found.append(component)
    return found


def _check_variables(problems: _Problems, nodes: dict, start: str, reachable: set[str]) -> None:
    """Defined on every path: the variables certainly set on arriving at each node."""
    everything = frozenset(
        name for node in nodes.values() for _k, _t, defines in edges(node) for name in defines
    )
    arriving = {node_id: everything for node_id in reachable}
    arriving[start] = frozenset()
    changed = True
    while changed:
        changed = False
        for node_id in reachable:
            for _key, target, defines in edges(nodes[node_id]):
                narrowed = arriving[target] & (arriving[node_id] | defines)
                if target != start and narrowed != arriving[target]:
                    arriving[target] = narrowed
                    changed = True
    for node_id in sorted(reachable):
        missing = sorted(set(_uses(nodes[node_id])) - arriving[node_id])
        if missing:
            problems.add(
                node_id,
                "",
                _("Uses %(names)s before a question, menu, set or http node defines it on every path.")
                % {"names": ", ".join(missing)},
            )


# --- each node's own fields --------------------------------------------------------------------------


def _text(problems, node_id, node, key, *, required=True):
    value = node.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        problems.add(node_id, key, _("Write 1 to %(max)d characters.") % {"max": MAX_TEXT})


def _attempts(problems, node_id, node):
    value = node.get("attempts", 3)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        problems.add(node_id, "attempts", _("Attempts must be a whole number from 1 to 10."))


def _variable(problems, node_id, node, key="variable", *, required=True):
    value = node.get(key)
    if value in (None, "") and not required:
        return
    if not isinstance(value, str) or not VARIABLE_NAME.match(value):
        problems.add(
            node_id, key, _("Name the variable with letters, digits and “_” (not starting with a digit).")
        )


def _contact_field(name) -> bool:
    return isinstance(name, str) and (
        name in CONTACT_FIELDS
        or (name.startswith("custom.") and VARIABLE_NAME.match(name.removeprefix("custom.")) is not None)
    )


def _team(problems, node_id, key, value, team_ids, *, required):
    if value is None and not required:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        problems.add(node_id, key, _("Choose a team."))
    elif team_ids is not None and value not in team_ids:
        problems.add(node_id, key, _("No such team."))


def _check_node(problems, node_id, node, team_ids):
    kind = node["type"]
    if kind == "message":
        _text(problems, node_id, node, "text")
    elif kind == "menu":
        _text(problems, node_id, node, "text")
        _text(problems, node_id, node, "invalid_text", required=False)
        _attempts(problems, node_id, node)
        _variable(problems, node_id, node, required=False)
        options = node.get("options")
        if not isinstance(options, list) or not 1 <= len(options) <= MAX_OPTIONS:
            problems.add(node_id, "options", _("Give 1 to %(max)d options.") % {"max": MAX_OPTIONS})
        else:
            for index, option in enumerate(options):
                label = option.get("label") if isinstance(option, dict) else None
                if not isinstance(label, str) or not 1 <= len(label.strip()) <= 100:
                    problems.add(
                        node_id,
                        f"options.{index}.label",
                        _("Each option needs a label (1 to 100 characters)."),
                    )
                elif not option.get("next"):
                    problems.add(
                        node_id,
                        f"options.{index}.next",
                        _("Choose where the option “%(label)s” leads.") % {"label": label},
                    )
    elif kind == "question":
        _text(problems, node_id, node, "text")
        _text(problems, node_id, node, "invalid_text", required=False)
        _attempts(problems, node_id, node)
        _variable(problems, node_id, node)
        _check_validation(problems, node_id, node.get("validation") or {"type": "text"})
        if node.get("save_to") not in (None, "") and not _contact_field(node.get("save_to")):
            problems.add(
                node_id,
                "save_to",
                _("Save to one of %(fields)s or custom.<key>.") % {"fields": ", ".join(CONTACT_FIELDS)},
            )
    elif kind == "condition":
        branches = node.get("branches")
        if not isinstance(branches, list) or not 1 <= len(branches) <= 20:
            problems.add(node_id, "branches", _("Give 1 to 20 branches."))
        else:
            for index, branch in enumerate(branches):
                if not isinstance(branch, dict) or not branch.get("next"):
                    problems.add(node_id, f"branches.{index}.next", _("Choose where this branch leads."))
                else:
                    _check_rule(problems, node_id, f"branches.{index}.if", branch.get("if"), team_ids)
    elif kind == "set":
        assign = node.get("assign")
        if not isinstance(assign, list) or not 1 <= len(assign) <= 20:
            problems.add(node_id, "assign", _("Give 1 to 20 values to set."))
        else:
            for index, item in enumerate(assign):
                _check_assignment(problems, node_id, f"assign.{index}", item)
    elif kind == "http":
        _check_http(problems, node_id, node)
    elif kind == "handoff":
        _team(problems, node_id, "team_id", node.get("team_id"), team_ids, required=False)
        _text(problems, node_id, node, "text", required=False)
    elif kind == "delay":
        seconds = node.get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= MAX_DELAY_SECONDS:
            problems.add(node_id, "seconds", _("Wait 1 second to 7 days."))
    elif kind == "end":
        _text(problems, node_id, node, "text", required=False)
        if not isinstance(node.get("close", True), bool):
            problems.add(node_id, "close", _("Must be true or false."))


def _check_validation(problems, node_id, validation):
    kind = validation.get("type") if isinstance(validation, dict) else None
    if kind not in VALIDATIONS:
        problems.add(
            node_id, "validation.type", _("Validate as one of %(types)s.") % {"types": ", ".join(VALIDATIONS)}
        )
    elif kind == "regex":
        try:
            re.compile(validation.get("pattern") or "")
        except (re.error, TypeError):
            problems.add(node_id, "validation.pattern", _("Not a valid regular expression."))
        if not validation.get("pattern"):
            problems.add(node_id, "validation.pattern", _("Give the pattern answers must match."))
    elif kind == "options":
        options = validation.get("options")
        if (
            not isinstance(options, list)
            or not options
            or not all(isinstance(o, str) and o.strip() for o in options)
        ):
            problems.add(node_id, "validation.options", _("List the accepted answers."))


def _check_rule(problems, node_id, key, rule, team_ids):
    if not isinstance(rule, dict) or rule.get("source") not in CONDITION_SOURCES:
        problems.add(node_id, f"{key}.source", _("Compare a variable, a contact field or business hours."))
        return
    if rule["source"] == "business_hours":
        _team(problems, node_id, f"{key}.team_id", rule.get("team_id"), team_ids, required=True)
        if rule.get("op", "open") not in ("open", "closed"):
            problems.add(node_id, f"{key}.op", _("Use “open” or “closed”."))
        return
    if rule["source"] == "variable":
        _variable(problems, node_id, rule, "name")
    elif rule.get("name") not in CONTACT_VALUES and not _contact_field(rule.get("name")):
        problems.add(
            node_id,
            f"{key}.name",
            _("Compare one of %(fields)s or custom.<key>.") % {"fields": ", ".join(CONTACT_VALUES)},
        )
    if rule.get("op") not in CONDITION_OPS:
        problems.add(node_id, f"{key}.op", _("Use one of %(ops)s.") % {"ops": ", ".join(CONDITION_OPS)})
    elif rule["op"] == "matches":
        try:
            re.compile(str(rule.get("value") or ""))
        except re.error:
            problems.add(node_id, f"{key}.value", _("Not a valid regular expression."))
    if rule.get("op") not in ("exists", "empty") and not isinstance(rule.get("value"), str | int | float):
        problems.add(node_id, f"{key}.value", _("Give the value to compare with."))


def _check_assignment(problems, node_id, key, item):
    if not isinstance(item, dict) or item.get("target") not in SET_TARGETS:
        problems.add(node_id, f"{key}.target", _("Set a variable, a contact field, a tag or a label."))
        return
    target = item["target"]
    if target == "variable":
        _variable(problems, node_id, item, "name")
    elif target == "contact" and not _contact_field(item.get("name")):
        problems.add(
            node_id,
            f"{key}.name",
            _("Set one of %(fields)s or custom.<key>.") % {"fields": ", ".join(CONTACT_FIELDS)},
        )
    if (
        not isinstance(item.get("value"), str)
        or len(item["value"]) > 1000
        or (target in ("tag", "label") and not item["value"].strip())
    ):
        problems.add(node_id, f"{key}.value", _("Give a value (at most 1000 characters)."))


def _check_http(problems, node_id, node):
    if node.get("method", "GET") not in HTTP_METHODS:
        problems.add(node_id, "method", _("Use one of %(methods)s.") % {"methods": ", ".join(HTTP_METHODS)})
    url = node.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]", url) or len(url) > 2000:
        problems.add(node_id, "url", _("Give an http:// or https:// address."))
    headers = node.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        problems.add(node_id, "headers", _("Headers are names and text values."))
    timeout = node.get("timeout", 5)
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 < timeout <= MAX_HTTP_TIMEOUT
    ):
        problems.add(node_id, "timeout", _("Wait at most %(max)d seconds.") % {"max": MAX_HTTP_TIMEOUT})
    mapping = node.get("map", {})
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and VARIABLE_NAME.match(k) and isinstance(v, str) for k, v in mapping.items()
    ):
        problems.add(node_id, "map", _("Map variable names to paths in the response, e.g. “data.id”."))
    if not node.get("error"):
        problems.add(node_id, "error", _("Choose where a failed call leads."))
