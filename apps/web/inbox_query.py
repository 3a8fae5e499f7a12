"""The inbox's tabs, filters and counts, on top of the conversations' visibility rules."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.accounts.models import User
from apps.conversations.models import Conversation
from apps.conversations.selectors import conversation_list, conversations_visible_to
from apps.teams.models import Team
from apps.teams.selectors import team_ids_of

PAGE_SIZE = 30
TABS = (
    ("mine", _("Mine")), ("unassigned", _("Unassigned")),
    ("teams", pgettext_lazy("inbox tab", "My teams")), ("all", _("All")),
)
# Where an agent lands without a tab in the address: the first of these with work in it.
LANDING_ORDER = ("mine", "unassigned", "teams", "all")
ACTIVE = "active"


def status_choices():
    active = pgettext_lazy("conversations", "Active")
    return [(ACTIVE, active), *Conversation.Status.choices, ("any", _("Any status"))]


@dataclass(frozen=True)
class InboxFilters:
    tab: str = "mine"
    status: str = ACTIVE
    q: str = ""
    inbox: int | None = None
    label: str = ""
    # "" (any), "none" (no team) or a team's id, as `conversation_list`'s `team`.
    team: str = ""

    @classmethod
    def from_query(cls, query: QueryDict, *, default_tab: str = "mine") -> "InboxFilters":
        tab = query.get("tab", default_tab)
        status = query.get("status", ACTIVE)
        inbox = query.get("inbox", "")
        team = query.get("team", "")
        return cls(
            tab=tab if tab in dict(TABS) else "mine",
            status=status if status in dict(status_choices()) else ACTIVE,
            q=query.get("q", "").strip()[:100],
            inbox=int(inbox) if inbox.isdigit() else None,
            label=query.get("label", "").strip()[:50],
            team=team if team == "none" or team.isdigit() else "",
        )

    def as_query(self, **changes) -> str:
        values = {"tab": self.tab, "status": self.status, "q": self.q, "inbox": self.inbox or "",
                  "label": self.label, "team": self.team, **changes}
        query = QueryDict(mutable=True)
        for key, value in values.items():
            if value not in ("", None):
                query[key] = value
        return query.urlencode()


def _statuses(status: str) -> str | None:
    if status == ACTIVE:
        return ",".join(Conversation.ACTIVE_STATUSES)
    return None if status == "any" else status


def inbox_conversations(user: User, filters: InboxFilters) -> QuerySet[Conversation]:
    """The list of a tab and its filters: `conversation_list`, the API's selector, with the
    visibility rule in it."""
    assignee = {"mine": "me", "unassigned": "none"}.get(filters.tab)
    team = filters.team or ("mine" if filters.tab == "teams" else None)
    conversations = conversation_list(
        user, status=_statuses(filters.status), assignee=assignee, inbox=filters.inbox, team=team,
        label=filters.label or None, q=filters.q or None,
    )
    if filters.tab == "teams" and filters.team:
        conversations = conversations.filter(team_id__in=team_ids_of(user))
    return (
        conversations
        .select_related("assignee", "team")
        # Conversations opened by an agent have no message yet: they sort by when they began.
        .annotate(activity=Coalesce("last_message_at", "created_at"))
    )


def team_choices(user: User) -> QuerySet[Team]:
    """Teams the team filter offers: every team to admins, one's own teams to everyone else (whose
    lists hold no other team's conversations)."""
    teams = Team.objects.only("id", "name").order_by("name")
    return teams if user.role == User.Role.ADMIN else teams.filter(pk__in=team_ids_of(user))


def landing_tab(counts: dict[str, dict[str, int]], remembered: str | None) -> str:
    """The tab to open without one in the address: the last one used if it has work, else the first
    that has some, else the last one used (or "Mine")."""
    if remembered in counts and counts[remembered]["count"]:
        return remembered
    for tab in LANDING_ORDER:
        if counts.get(tab, {}).get("count"):
            return tab
    return remembered if remembered in counts else "mine"


def tab_counts(user: User) -> dict[str, dict[str, int]]:
    """Active conversations and those with unread messages, per tab, in one query ("My teams" only
    for members of a team)."""
    unread = Q(unread_count__gt=0)
    mine, unassigned = Q(assignee=user), Q(assignee__isnull=True)
    teams = team_ids_of(user)
    per_team = {}
    if teams:
        in_teams = Q(team_id__in=teams)
        per_team = {
            "teams": Count("pk", filter=in_teams), "teams_unread": Count("pk", filter=unread & in_teams),
        }
    # Every count is of active conversations: filtering them in WHERE (rather than in each FILTER)
    # lets the partial index conv_active_activity_idx answer without reading closed ones.
    row = (
        conversations_visible_to(user)
        .filter(status__in=Conversation.ACTIVE_STATUSES)
        .aggregate(
            mine=Count("pk", filter=mine), mine_unread=Count("pk", filter=unread & mine),
            unassigned=Count("pk", filter=unassigned),
            unassigned_unread=Count("pk", filter=unread & unassigned),
            all=Count("pk"), all_unread=Count("pk", filter=unread), **per_team,
        )
    )
    return {tab: {"count": row[tab], "unread": row[f"{tab}_unread"]} for tab, _label in TABS if tab in row}
