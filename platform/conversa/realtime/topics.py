"""Topics a socket may subscribe to (a conversation, a team-chat room), registered by apps.

Each topic has an authoriser that runs in the socket's schema and says whether the user may see
that id; the socket then joins `{schema}.{topic}.{id}`.
"""

from collections.abc import Callable

from django_tenants.utils import schema_context

from conversa.realtime.fanout import send_to_groups
from conversa.realtime.groups import group_name, user_group

# (user id, ref) → may that user follow it; runs in the socket's schema, loads what it needs.
Authorizer = Callable[[int, str], bool]
_topics: dict[str, Authorizer] = {}


def register_topic(name: str):
    def register(authorizer: Authorizer) -> Authorizer:
        _topics[name] = authorizer
        return authorizer

    return register


def group_for(schema_name: str, topic, ref) -> str | None:
    if topic not in _topics or not str(ref or "").isalnum():
        return None
    return group_name(schema_name, topic, ref)


def authorize(schema_name: str, user_id: int, topic, ref) -> str | None:
    """The group for (topic, ref) if the user may subscribe to it, else None."""
    group = group_for(schema_name, topic, ref)
    if group is None:
        return None
    with schema_context(schema_name):
        if not _topics[topic](user_id, str(ref)):
            return None
    return group


def revoke(schema_name: str, user_id: int, topic, ref) -> None:
    """Make every socket of one user leave (topic, ref) now: they may no longer follow it."""
    group = group_for(schema_name, topic, ref)
    if group is not None:
        send_to_groups([user_group(schema_name, user_id)], {"type": "topic.revoke", "group": group})
