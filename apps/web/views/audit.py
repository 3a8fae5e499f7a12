"""Settings → Audit log: the company's audit trail for admins, filtered as the API filters it
(apps.audit.selectors), each change shown as "field: from → to", and "Export CSV" of what is shown."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import ApiKey, User
from apps.audit.selectors import FILTER_NAMES, audit_actions, audit_filters_parse, audit_log_list
from apps.exports import services as exports
from apps.exports.models import Export
from apps.teams.models import Team
from apps.web.auth import action_required
from apps.web.views.settings import _page
from conversa.errors import DomainError, ValidationFailed

PAGE_SIZE = 50
ENTITY_TYPES = ("conversation", "contact", "user", "invitation", "api_key", "inbox", "team", "company",
                "export", "campaign", "contact_list", "segment")
# Fields holding a user's or team's id, shown by name.
USER_FIELDS = frozenset({"assignee_id", "user_id"})
TEAM_FIELDS = frozenset({"team_id"})


def _shown(value, names: dict) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_shown(item, names) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_shown(item, names)}" for key, item in value.items())
    return names.get(value, str(value))


def _rows(logs: list) -> list[dict]:
    """Each entry with its changes as (field, from, to) and its other facts as (field, value)."""
    user_ids, team_ids = set(), set()
    for log in logs:
        for field, change in (log.changes or {}).items():
            values = change if isinstance(change, list) else [change]
            ids = {value for value in values if isinstance(value, int) and not isinstance(value, bool)}
            (user_ids if field in USER_FIELDS else team_ids if field in TEAM_FIELDS else set()).update(ids)
    users = {pk: name or email for pk, name, email in
             User.objects.filter(pk__in=user_ids).values_list("pk", "name", "email")}
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
    rows = []
    for log in logs:
        changes, facts = [], []
        for field, change in (log.changes or {}).items():
            names = users if field in USER_FIELDS else teams if field in TEAM_FIELDS else {}
            if isinstance(change, list) and len(change) == 2:
                changes.append((field, _shown(change[0], names), _shown(change[1], names)))
            else:
                facts.append((field, _shown(change, names)))
        rows.append({"log": log, "changes": changes, "facts": facts})
    return rows


def _raw_filters(query) -> dict:
    return {name: query.get(name, "").strip() for name in FILTER_NAMES if query.get(name, "").strip()}


@action_required("audit.read")
@require_GET
def audit_view(request):
    raw = _raw_filters(request.GET)
    error = None
    try:
        logs = audit_log_list(request.user, audit_filters_parse(raw))
    except ValidationFailed as exc:
        error = exc.details[0]["message"] if exc.details else exc.message
        logs = audit_log_list(request.user).none()
    before = request.GET.get("before", "")
    if before.isdigit():
        logs = logs.filter(pk__lt=int(before))
    page = list(logs.order_by("-id")[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    older = None
    if more:
        query = request.GET.copy()
        query["before"] = page[-1].pk
        older = f"{reverse('web:settings-audit')}?{query.urlencode()}"
    return _page(request, "web/settings/audit.html", "audit", {
        "rows": _rows(page), "filters": raw, "filter_error": error, "older": older,
        "newest": f"{reverse('web:settings-audit')}?{_query(raw)}" if before else None,
        "actions": audit_actions(), "entity_types": ENTITY_TYPES,
        "users": User.objects.order_by("name", "email").only("pk", "name", "email"),
        "api_keys": ApiKey.objects.order_by("name").only("pk", "name", "prefix"),
    })


def _query(raw: dict) -> str:
    query = QueryDict(mutable=True)
    query.update(raw)
    return query.urlencode()


@action_required("audit.read")
@require_POST
def audit_export_view(request):
    """Start a CSV export of the entries the page shows (its filters), then show the exports page."""
    raw = _raw_filters(request.POST)
    try:
        exports.export_create(actor=request.user, entity=Export.Entity.AUDIT_LOGS, format="csv", filters=raw,
                              request=request)
    except DomainError as exc:
        messages.error(request, exc.details[0]["message"] if exc.details else exc.message)
        return redirect(f"{reverse('web:settings-audit')}?{_query(raw)}")
    messages.success(request, _("The export has started; it appears here when it is ready."))
    return redirect("web:exports")
