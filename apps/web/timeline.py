"""A conversation's timeline as the agent reads it: messages, internal notes and events, in order."""

from dataclasses import dataclass
from datetime import datetime

from apps.accounts.models import User
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.selectors import messages_of

PAGE_SIZE = 50
# Shown elsewhere already (the note itself), or noise in a reading view.
HIDDEN_EVENTS = {"note_added"}


@dataclass(frozen=True)
class Item:
    kind: str  # "message", "note" or "event"
    obj: object

    @property
    def created_at(self) -> datetime:
        return self.obj.created_at

    @property
    def dom_id(self) -> str:
        return f"{self.kind[0]}-{self.obj.pk}"


@dataclass(frozen=True)
class TimelinePage:
    items: list[Item]
    # The oldest message shown; older items load from before it.
    before: int | None


def timeline_page(conversation: Conversation, *, before: int | None = None) -> TimelinePage:
    """The newest PAGE_SIZE messages (older than message `before`) with the notes and events between."""
    messages = messages_of(conversation).select_related("sender_user", "reply_to__media")
    upper = None
    if before is not None:
        anchor = Message.objects.filter(pk=before, conversation=conversation).first()
        if anchor is None:
            return TimelinePage([], None)
        upper = anchor.created_at
        messages = messages.filter(created_at__lte=upper).exclude(pk=before).exclude(
            created_at=upper, pk__gt=before
        )
    page = list(messages.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    has_more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE][::-1]
    lower = page[0].created_at if has_more and page else None

    def between(queryset):
        if lower is not None:
            queryset = queryset.filter(created_at__gte=lower)
        if upper is not None:
            queryset = queryset.filter(created_at__lt=upper)
        return queryset

    notes = between(conversation.notes.select_related("author"))
    events = list(between(conversation.timeline.select_related("actor")).exclude(kind__in=HIDDEN_EVENTS))
    _attach_assignees(events)
    items = [Item("message", m) for m in page]
    items += [Item("note", n) for n in notes] + [Item("event", e) for e in events]
    items.sort(key=lambda item: (item.created_at, item.kind != "message", item.obj.pk))
    return TimelinePage(items, page[0].pk if has_more and page else None)


def timeline_since(conversation: Conversation, after: datetime) -> list[Item]:
    """Notes and events newer than `after` (messages arrive on their own realtime frames)."""
    notes = conversation.notes.select_related("author").filter(created_at__gt=after)
    events = list(conversation.timeline.select_related("actor").filter(created_at__gt=after).exclude(
        kind__in=HIDDEN_EVENTS
    ))
    _attach_assignees(events)
    items = [Item("note", n) for n in notes] + [Item("event", e) for e in events]
    items.sort(key=lambda item: (item.created_at, item.obj.pk))
    return items[:PAGE_SIZE]


def _attach_assignees(events: list[TimelineEvent]) -> None:
    """The users that assignment events name, in one query for the page (read by `event_text`)."""
    ids = {event.data.get("assignee_id") for event in events if isinstance(event.data, dict)}
    ids = {pk for pk in ids if isinstance(pk, int)}
    users = User.objects.only("name", "email").in_bulk(ids) if ids else {}
    for event in events:
        pk = event.data.get("assignee_id") if isinstance(event.data, dict) else None
        if pk is None or isinstance(pk, int):  # anything odd is left to event_text's own lookup
            event.assignee_user = users.get(pk)
