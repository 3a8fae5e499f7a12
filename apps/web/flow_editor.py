"""The structured flow editor's form: a graph shown as one typed card per node, and read back from
the posted fields. Checking is `apps.flows.graph.validate_graph`'s (through the services), whose
details name the node, so each card shows its own problems."""

import json

from django.utils.translation import gettext_lazy as _

from apps.flows.graph import CONDITION_OPS, CONTACT_FIELDS, HTTP_METHODS, NODE_TYPES, VALIDATIONS, edges

TYPE_LABELS = {
    "message": _("Message"),
    "menu": _("Menu"),
    "question": _("Question"),
    "condition": _("Condition"),
    "set": _("Set values"),
    "http": _("HTTP call"),
    "handoff": _("Hand off to people"),
    "delay": _("Delay"),
    "end": _("End"),
}
TYPE_HELP = {
    "message": _("Sends a text, then goes on."),
    "menu": _("Sends numbered options and waits: the customer answers with a number or the option's text."),
    "question": _("Asks, waits for a valid answer and stores it in a variable."),
    "condition": _("Goes along the first branch whose rule holds, else along “else”."),
    "set": _("Sets variables, contact fields, tags or conversation labels."),
    "http": _("Calls an address; maps fields of the JSON answer into variables."),
    "handoff": _("Hands the conversation to a team's queue (or the general queue). Ends the bot."),
    "delay": _("Waits, then goes on."),
    "end": _("Ends the bot, optionally closing the conversation."),
}
DEFAULTS = {
    "message": {"text": ""},
    "menu": {"text": "", "options": [{"label": "", "next": ""}]},
    "question": {"text": "", "variable": "", "validation": {"type": "text"}},
    "condition": {
        "branches": [{"if": {"source": "variable", "name": "", "op": "eq", "value": ""}, "next": ""}]
    },
    "set": {"assign": [{"target": "variable", "name": "", "value": ""}]},
    "http": {"method": "GET", "url": "https://", "timeout": 5, "map": {}, "error": ""},
    "handoff": {},
    "delay": {"seconds": 60},
    "end": {"text": "", "close": True},
}
EXTRA_ROWS = 2
STARTER_GRAPH = {
    "start": "welcome",
    "nodes": {
        "welcome": {"type": "message", "text": "Hello! 👋", "next": "bye"},
        "bye": {"type": "end", "text": "Thanks for writing.", "close": False},
    },
}


def new_node(kind: str) -> dict:
    return {"type": kind, **json.loads(json.dumps(DEFAULTS[kind]))}


def _int(value: str):
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value  # the validator names it


def _number(value: str):
    value = (value or "").strip()
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value


def _lines(text: str, separator: str) -> dict:
    found = {}
    for line in (text or "").splitlines():
        if separator in line:
            key, _sep, value = line.partition(separator)
            if key.strip():
                found[key.strip()] = value.strip()
    return found


def _set(node: dict, key: str, value) -> None:
    if value not in (None, ""):
        node[key] = value


def graph_from_post(data) -> dict:
    """The graph the editor's fields describe (unchecked)."""
    nodes = {}
    for index in range(int(data.get("node_count") or 0)):
        prefix = f"n-{index}-"
        node_id = (data.get(prefix + "id") or "").strip()
        kind = data.get(prefix + "type") or ""
        if not node_id or data.get(prefix + "remove"):
            continue
        field = lambda key, p=prefix: (data.get(p + key) or "").strip()  # noqa: E731
        node = {"type": kind}
        if kind in ("message", "menu", "question", "handoff", "end"):
            _set(node, "text", (data.get(prefix + "text") or "").strip())
        for key in ("next", "error", "invalid_text"):
            _set(node, key, field(key))
        if kind in ("menu", "question"):
            _set(node, "attempts", _int(field("attempts")))
            _set(node, "variable", field("variable"))
        if kind == "menu":
            node["options"] = [
                {"label": field(f"opt-{row}-label"), "next": field(f"opt-{row}-next")}
                for row in range(int(data.get(prefix + "opt_rows") or 0))
                if field(f"opt-{row}-label") or field(f"opt-{row}-next")
            ]
        elif kind == "question":
            validation = {"type": field("vtype") or "text"}
            if validation["type"] == "regex":
                validation["pattern"] = field("pattern")
            elif validation["type"] == "options":
                validation["options"] = [o.strip() for o in field("voptions").split(",") if o.strip()]
            node["validation"] = validation
            _set(node, "save_to", field("save_to"))
        elif kind == "condition":
            branches = []
            for row in range(int(data.get(prefix + "br_rows") or 0)):
                source, target = field(f"br-{row}-source"), field(f"br-{row}-next")
                if not target and not field(f"br-{row}-name") and not field(f"br-{row}-value"):
                    continue
                rule = {"source": source, "op": field(f"br-{row}-op")}
                if source == "business_hours":
                    rule["team_id"] = _int(field(f"br-{row}-team"))
                    rule["op"] = rule["op"] if rule["op"] in ("open", "closed") else "open"
                else:
                    rule["name"] = field(f"br-{row}-name")
                    rule["value"] = field(f"br-{row}-value")
                branches.append({"if": rule, "next": target})
            node["branches"] = branches
            _set(node, "else", field("else"))
        elif kind == "set":
            node["assign"] = [
                {
                    "target": field(f"as-{row}-target"),
                    "name": field(f"as-{row}-name"),
                    "value": data.get(prefix + f"as-{row}-value") or "",
                }
                for row in range(int(data.get(prefix + "as_rows") or 0))
                if field(f"as-{row}-name") or field(f"as-{row}-value")
            ]
        elif kind == "http":
            node["method"] = field("method") or "GET"
            node["url"] = field("url")
            node["headers"] = _lines(data.get(prefix + "headers"), ":")
            body = (data.get(prefix + "body") or "").strip()
            if body:
                try:
                    node["body"] = json.loads(body)
                except ValueError:
                    node["body"] = body
            node["timeout"] = _number(field("timeout") or "5")
            node["map"] = _lines(data.get(prefix + "map"), "=")
        elif kind == "handoff":
            _set(node, "team_id", _int(field("team_id")))
        elif kind == "delay":
            node["seconds"] = _int(field("seconds"))
        elif kind == "end":
            node["close"] = bool(data.get(prefix + "close"))
        nodes[node_id] = node
    return {"start": (data.get("start") or "").strip(), "nodes": nodes}


def node_cards(graph: dict, details: list[dict]) -> list[dict]:
    """What the template needs to draw each node's card, with the problems naming it."""
    problems: dict[str, list[str]] = {}
    for detail in details:
        if detail.get("node"):
            problems.setdefault(detail["node"], []).append(str(detail["message"]))
    cards = []
    for index, (node_id, node) in enumerate(_in_flow_order(graph)):
        node = node if isinstance(node, dict) else {}
        kind = node.get("type") if node.get("type") in NODE_TYPES else "message"
        validation = node.get("validation") if isinstance(node.get("validation"), dict) else {}
        prefix = f"n-{index}-"
        options = [
            {**option, "p": f"{prefix}opt-{row}-"}
            for row, option in enumerate(list(node.get("options") or []) + [{}] * EXTRA_ROWS)
        ]
        rules = [
            {**(branch.get("if") or {}), "next": branch.get("next", "")}
            for branch in node.get("branches") or []
            if isinstance(branch, dict)
        ] + [{}] * EXTRA_ROWS
        branches = [{**rule, "p": f"{prefix}br-{row}-"} for row, rule in enumerate(rules)]
        assign = [
            {**item, "p": f"{prefix}as-{row}-"}
            for row, item in enumerate(list(node.get("assign") or []) + [{}] * EXTRA_ROWS)
        ]
        body = node.get("body")
        cards.append(
            {
                "index": index,
                "p": prefix,
                "rows": {"opt": len(options), "br": len(branches), "as": len(assign)},
                "id": node_id,
                "type": kind,
                "label": TYPE_LABELS[kind],
                "help": TYPE_HELP[kind],
                "node": node,
                "problems": problems.get(node_id, []),
                "is_start": graph.get("start") == node_id,
                "vtype": validation.get("type", "text"),
                "pattern": validation.get("pattern", ""),
                "voptions": ", ".join(validation.get("options") or []),
                "options": options,
                "branches": branches,
                "assign": assign,
                "headers": "\n".join(f"{k}: {v}" for k, v in (node.get("headers") or {}).items()),
                "map": "\n".join(f"{k} = {v}" for k, v in (node.get("map") or {}).items()),
                "body": body
                if isinstance(body, str)
                else (json.dumps(body, ensure_ascii=False) if body else ""),
            }
        )
    return cards


def _in_flow_order(graph: dict) -> list[tuple[str, dict]]:
    """The start first, then in the order the flow reaches them, then the rest (as stored, the
    database keeps an object's keys in its own order)."""
    nodes = graph.get("nodes") or {}
    order = [graph["start"]] if graph.get("start") in nodes else []
    for node_id in order:
        node = nodes[node_id]
        for _key, target, _defines in edges(node) if isinstance(node, dict) else []:
            if target in nodes and target not in order:
                order.append(target)
    order += [node_id for node_id in nodes if node_id not in order]
    return [(node_id, nodes[node_id]) for node_id in order]


def choices() -> dict:
    return {
        "types": [(kind, TYPE_LABELS[kind]) for kind in NODE_TYPES],
        "validations": VALIDATIONS,
        "ops": CONDITION_OPS,
        "methods": HTTP_METHODS,
        "contact_fields": CONTACT_FIELDS,
        "set_targets": ("variable", "contact", "tag", "label"),
        "sources": ("variable", "contact", "business_hours"),
    }
