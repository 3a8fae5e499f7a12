"""Dependencies point one way (README, "Architecture"): no module imports a higher layer, not even
inside a function. A lower app that needs a higher one to act publishes an event instead."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KERNEL = {
    "conversa.events", "conversa.errors", "conversa.tasks", "conversa.redis", "conversa.netguard",
    "conversa.ratelimit", "conversa.periodic", "conversa.sentry", "conversa.schemas", "conversa.files",
    "conversa.db", "conversa.db_pool", "conversa.logs", "conversa.request_meta", "conversa.crypto",
    "conversa.totp", "conversa.metrics", "conversa.in_use", "conversa.prepared", "conversa.fairqueue",
    "conversa.cache_version",
    "conversa.realtime.topics", "conversa.realtime.audiences", "conversa.realtime.fanout",
    "conversa.realtime.groups", "conversa.realtime.close_codes",
    "conversa.realtime.layers", "conversa.realtime.presence", "conversa.realtime.viewers",
}
APP_LAYERS = {
    "apps.accounts": 2,
    "apps.audit": 2,  # the audit trail of identity: its entries name users and keys
    "apps.notifications": 3,
    "apps.contacts": 4,
    "apps.inboxes": 4,
    "apps.media": 5,
    "apps.teams": 5,  # a team names its members and the inboxes it answers
    "apps.conversations": 6,
    "apps.exports": 7,  # reads contacts, conversations and the audit log through their selectors
    "apps.mail": 2,  # branded email, beside accounts (invitations, resets, trial reminders)
    "apps.campaigns": 7,  # sends to contacts through inboxes; hears conversations' events
    "apps.reports": 8,  # rollups of conversations, teams and campaigns, kept by their events
    "apps.teamchat": 7,  # chat among users; files through media, mentions through notifications
    "apps.automation": 8,  # rules and macros act through conversations' services; hear their events
    "apps.webhooks": 7,  # hears the events of conversations, contacts and campaigns
    "apps.knowledge": 5,  # articles by users; the help centre reads no conversation
    "apps.tasks": 7,  # tasks name contacts and conversations and follow their visibility
    "apps.flows": 7,  # talks in conversations through their services; hears their events
}
DOORS = 9


def layer(module: str) -> int | None:
    if module in KERNEL or any(module.startswith(k + ".") for k in KERNEL):
        return 0
    if module.startswith(("ninja_api", "apps.web", "tenants.console", "tenants.management",
                          "tenants.templatetags")):
        return DOORS
    if module == "conversa":
        return None  # `from conversa import ratelimit` names its module
    if module.startswith("conversa."):
        return DOORS  # the wiring: settings, urls, asgi, middleware, consumers, views
    if module == "tenants" or module.startswith("tenants."):
        return 1
    for app, number in APP_LAYERS.items():
        if module == app or module.startswith(app + "."):
            return number
    return None


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT / "platform" if path.is_relative_to(ROOT / "platform") else ROOT)
    return ".".join(relative.with_suffix("").parts).removesuffix(".__init__")


def sources():
    for top in ("apps", "tenants", "ninja_api", "platform/conversa"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def imports_of(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in sources():
        importer = module_name(path)
        own = layer(importer)
        if own is None:
            continue
        for line, imported in imports_of(path):
            theirs = layer(imported)
            if theirs is not None and theirs > own:
                upward.append(f"{importer}:{line} imports {imported}")
    assert sorted(set(upward)) == []
