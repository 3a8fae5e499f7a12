"""Which published flow a conversation's event starts: a new conversation on an inbox, a keyword."""

import re

from django.db.models import Q

from apps.flows.models import Flow


def _words(text: str) -> str:
    return " " + re.sub(r"\W+", " ", (text or "").casefold()).strip() + " "


def keyword_matches(keywords: list[str], text: str) -> bool:
    """A keyword matches as a whole word or phrase, case ignored ("menu" in "Menu please")."""
    words = _words(text)
    return any(_words(keyword) in words for keyword in keywords if keyword.strip())


def live_flows(inbox_id: int | None, *types: str) -> list[Flow]:
    """Published, active flows of these trigger types for the inbox (None: any inbox); ones naming
    the inbox first."""
    flows = Flow.objects.filter(
        trigger_type__in=types,
        deleted_at__isnull=True,
        is_active=True,
        published_version__isnull=False,
    ).select_related("published_version")
    if inbox_id is not None:
        flows = flows.filter(Q(trigger_inbox_id=inbox_id) | Q(trigger_inbox__isnull=True))
    return sorted(flows, key=lambda flow: (flow.trigger_inbox_id is None, flow.pk))


def flow_for_new_conversation(inbox_id: int, texts) -> tuple[Flow, str] | None:
    """The flow a new conversation starts; `texts()` gives its customer's messages (read only when
    a keyword flow needs them)."""
    read = None
    for flow in live_flows(inbox_id, Flow.Trigger.NEW_CONVERSATION, Flow.Trigger.KEYWORD):
        if flow.trigger_type == Flow.Trigger.NEW_CONVERSATION:
            return flow, flow.trigger_type
        read = texts() if read is None else read
        if any(keyword_matches(flow.trigger_keywords, text) for text in read):
            return flow, flow.trigger_type
    return None


def keyword_flows() -> list[Flow]:
    """Published, active keyword flows of every inbox, in the order `live_flows` tries them."""
    return live_flows(None, Flow.Trigger.KEYWORD)


def flow_for_keyword(flows: list[Flow], inbox_id: int, text: str) -> Flow | None:
    for flow in flows:
        if flow.trigger_inbox_id in (None, inbox_id) and keyword_matches(flow.trigger_keywords, text):
            return flow
    return None
