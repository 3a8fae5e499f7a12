"""Who may do what: one table of actions by role and API-key scope, asked by services and selectors.

Every door (API, agents' UI, websocket, tasks) reaches a rule through a service or selector that
takes the acting user or API key, so a rule changed here is changed everywhere. Routers and views
never compare roles themselves.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from apps.accounts.models import ApiKey, User
from conversa.errors import Forbidden

Actor = User | ApiKey

EVERYONE = frozenset(User.Role.values)
MANAGERS = frozenset({User.Role.ADMIN, User.Role.SUPERVISOR})
ADMINS = frozenset({User.Role.ADMIN})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    # The scope an API key needs; None: people only (company settings are never changed with a key).
    scope: str | None


RULES: dict[str, Rule] = {
    "users.read": Rule(EVERYONE, "users:read"),
    "users.manage": Rule(ADMINS, "users:write"),
    "api_keys.manage": Rule(ADMINS, None),
    # The audit trail: admins, or a key given `audit:read` (a SIEM pulling the log).
    "audit.read": Rule(ADMINS, "audit:read"),
    "company.manage": Rule(ADMINS, None),
    "inboxes.read": Rule(EVERYONE, "conversations:read"),
    "inboxes.manage": Rule(ADMINS, None),
    "contacts.read": Rule(EVERYONE, "contacts:read"),
    "contacts.write": Rule(EVERYONE, "contacts:write"),
    "custom_fields.manage": Rule(MANAGERS, "contacts:write"),
    "conversations.read": Rule(EVERYONE, "conversations:read"),
    "conversations.write": Rule(EVERYONE, "conversations:write"),
    # Handing a conversation to someone who neither holds it nor asked for it.
    "conversations.route": Rule(MANAGERS, "conversations:write"),
    "teams.read": Rule(EVERYONE, "conversations:read"),
    # Teams, their members, hours and SLA: supervisors and admins, never with a key.
    "teams.manage": Rule(MANAGERS, None),
    "media.upload": Rule(EVERYONE, "conversations:write"),
    "quick_replies.use": Rule(EVERYONE, None),
    "quick_replies.share": Rule(MANAGERS, None),
    "sandbox.play": Rule(EVERYONE, "conversations:read"),
    # Contact lists and segments: everyone reads them (the contacts page filters by them); their
    # members and filters are changed by managers, who build campaigns' audiences.
    "audiences.read": Rule(EVERYONE, "contacts:read"),
    "audiences.manage": Rule(MANAGERS, "contacts:write"),
    "contacts.import": Rule(MANAGERS, "contacts:write"),
    "contacts.merge": Rule(MANAGERS, "contacts:write"),
    # GDPR erasure cannot be undone: admins only, never with a key.
    "contacts.erase": Rule(ADMINS, None),
    # Exports carry the company's data out: managers, or a key that may read what it exports.
    "exports.create": Rule(MANAGERS, "contacts:read"),
    # A backup of the whole company (users' password hashes included): admins, never with a key.
    "company.backup": Rule(ADMINS, None),
    "campaigns.read": Rule(MANAGERS, "campaigns:read"),
    "campaigns.write": Rule(MANAGERS, "campaigns:write"),
    # Reports: managers (supervisors see their teams' figures only, apps.reports.scope), or a key
    # that may read conversations.
    "reports.read": Rule(MANAGERS, "conversations:read"),
    # Team chat: everyone in the company, as themselves (never with a key).
    "team_chat.use": Rule(EVERYONE, None),
    # Automation rules act on every conversation with the company's own rights (assign anyone,
    # message customers): a company setting, for admins, never with a key.
    "automation.manage": Rule(ADMINS, None),
    # Macros: everyone runs the shared ones and keeps personal ones (a key runs shared ones);
    # shared macros are written by managers, like shared quick replies.
    "macros.use": Rule(EVERYONE, "conversations:write"),
    "macros.share": Rule(MANAGERS, None),
    # Outbound webhooks carry every event of the company out: admins, or a key with the scope.
    "webhooks.manage": Rule(ADMINS, "webhooks:write"),
    # Knowledge base: everyone reads every article (internal ones included); managers write.
    "knowledge.read": Rule(EVERYONE, "knowledge:read"),
    "knowledge.write": Rule(MANAGERS, "knowledge:write"),
    # Tasks: everyone keeps their own; which tasks one sees is apps.tasks.selectors' business.
    "tasks.read": Rule(EVERYONE, "tasks:read"),
    "tasks.write": Rule(EVERYONE, "tasks:write"),
    # Giving a task to someone else (agents give tasks to themselves only).
    "tasks.assign": Rule(MANAGERS, "tasks:write"),
    # Bot flows: everyone reads them and starts a published one in a conversation; managers build
    # and publish them, never with a key.
    "flows.read": Rule(EVERYONE, "conversations:read"),
    "flows.start": Rule(EVERYONE, "conversations:write"),
    "flows.manage": Rule(MANAGERS, None),
}

DENIED = {
    "api_keys.manage": _("Only admins can do this."),
    "audit.read": _("Only admins can do this."),
    "company.manage": _("Only admins can do this."),
    "inboxes.manage": _("Only admins can do this."),
    "contacts.erase": _("Only admins can do this."),
    "reports.read": _("Only supervisors and admins can read reports."),
    "automation.manage": _("Only admins can do this."),
    "webhooks.manage": _("Only admins can do this."),
    "company.backup": _("Only admins can do this."),
}


def may(actor: Actor | None, action: str) -> bool:
    """Whether `actor` may take `action` at all (what it may see is the selectors' business)."""
    rule = RULES[action]
    if isinstance(actor, ApiKey):
        return rule.scope is not None and actor.has_scope(rule.scope)
    return isinstance(actor, User) and actor.is_active and actor.role in rule.roles


def check(actor: Actor | None, action: str) -> None:
    """Raise Forbidden (403) unless `actor` may take `action`."""
    if may(actor, action):
        return
    rule = RULES[action]
    if isinstance(actor, ApiKey):
        if rule.scope is None:
            raise Forbidden(_("This action needs a signed-in user, not an API key."))
        raise Forbidden(_("This API key lacks the scope %(scope)s.") % {"scope": rule.scope})
    raise Forbidden(DENIED.get(action))


def acting_user(actor: Actor | None) -> User | None:
    """The person behind an action, for timelines and authorship (None for API keys and the system)."""
    return actor if isinstance(actor, User) else None
