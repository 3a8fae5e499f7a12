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

PAGE_SIZE = 30
TABS = (("mine", _("Mine")), ("unassigned", _("Unassigned")), ("all", _("All")))
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

    @classmethod
    def from_query(cls, query: QueryDict) -> "InboxFilters":
        tab = query.get("tab", "mine")
        status = query.get("status", ACTIVE)
        inbox = query.get("inbox", "")
        return cls(
            tab=tab if tab in dict(TABS) else "mine",
            status=status if status in dict(status_choices()) else ACTIVE,
            q=query.get("q", "").strip()[:100],
            inbox=int(inbox) if inbox.isdigit() else None,
            label=query.get("label", "").strip()[:50],
        )

    def as_query(self, **changes) -> str:
        values = {"tab": self.tab, "status": self.status, "q": self.q, "inbox": self.inbox or "",
                  "label": self.label, **changes}
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
    assignee = {"mine": "me", "unassigned": "none"}.get(filters.tab)
    return (
        conversation_list(
            user, status=_statuses(filters.status), assignee=assignee, inbox=filters.inbox,
            label=filters.label or None, q=filters.q or None,
        )
        .select_related("assignee")
        # Conversations opened by an agent have no message yet: they sort by when they began.
        .annotate(activity=Coalesce("last_message_at", "created_at"))
    )


def tab_counts(user: User) -> dict[str, dict[str, int]]:
    """Active conversations and those with unread messages, per tab, in one query."""
    unread = Q(unread_count__gt=0)
    mine, unassigned = Q(assignee=user), Q(assignee__isnull=True)
    # Every count is of active conversations: filtering them in WHERE (rather than in each FILTER)
    # lets the partial index conv_active_activity_idx answer without reading closed ones.
    row = (
        conversations_visible_to(user)
        .filter(status__in=Conversation.ACTIVE_STATUSES)
        .aggregate(
            mine=Count("pk", filter=mine), mine_unread=Count("pk", filter=unread & mine),
            unassigned=Count("pk", filter=unassigned),
            unassigned_unread=Count("pk", filter=unread & unassigned),
            all=Count("pk"), all_unread=Count("pk", filter=unread),
        )
    )
    return {tab: {"count": row[tab], "unread": row[f"{tab}_unread"]} for tab, _label in TABS}
