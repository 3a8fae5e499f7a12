"""Topics a socket may subscribe to (a conversation, a contact, a team-chat room), registered by apps.

Each topic has an authoriser that runs in the socket's schema and says whether the user may see
that id; the socket then joins `{schema}.{topic}.{id}`. A topic may bring companions along: topics
that a subscriber follows for as long as it follows this one (a conversation's contact, whose
frames only the sockets showing it receive), each authorised in its own right.
"""

from collections.abc import Callable, Iterable

from django_tenants.utils import schema_context

from conversa.realtime.fanout import send_to_groups
from conversa.realtime.groups import group_name, user_group

# (user id, ref) → may that user follow it; runs in the socket's schema, loads what it needs.
Authorizer = Callable[[int, str], bool]
_topics: dict[str, Authorizer] = {}
# ref → the (topic, ref) pairs a subscriber also follows; runs in the socket's schema.
Companions = Callable[[str], Iterable[tuple[str, object]]]
_companions: dict[str, Companions] = {}


def register_topic(name: str):
    def register(authorizer: Authorizer) -> Authorizer:
        _topics[name] = authorizer
        return authorizer

    return register


def register_companions(name: str):
    def register(companions: Companions) -> Companions:
        _companions[name] = companions
        return companions

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


def follow(schema_name: str, user_id: int, topic, ref) -> list[str] | None:
    """The groups a subscription to (topic, ref) joins: the topic's own first, then those of its
    companions the user may follow; None if the user may not follow the topic itself."""
    group = authorize(schema_name, user_id, topic, ref)
    if group is None or topic not in _companions:
        return None if group is None else [group]
    with schema_context(schema_name):
        companions = list(_companions[topic](str(ref)))
    groups = [group]
    for companion, companion_ref in companions:
        companion_group = authorize(schema_name, user_id, companion, companion_ref)
        if companion_group is not None and companion_group not in groups:
            groups.append(companion_group)
    return groups


def revoke(schema_name: str, user_id: int, topic, ref) -> None:
    """Make every socket of one user leave (topic, ref) now: they may no longer follow it."""
    group = group_for(schema_name, topic, ref)
    if group is not None:
        send_to_groups([user_group(schema_name, user_id)], {"type": "topic.revoke", "group": group})
