"""Who is online: open sockets per user, counted in Redis so every server process agrees.

`presence.updated` goes to the company's staff when a user's first socket opens or last one closes.
Presence is separate from the agent status a person chooses (available, busy…).
"""

from conversa.realtime.fanout import event_message, send_to_groups
from conversa.realtime.groups import staff_group
from conversa.redis import get_redis, redis_key

# A crashed server never decrements: counts expire unless sockets keep them alive.
TTL_SECONDS = 6 * 3600


def _key(schema_name: str) -> str:
    return redis_key("presence", schema_name)


def _announce(schema_name: str, user_id: int, online: bool) -> None:
    send_to_groups([staff_group(schema_name)],
                   event_message("presence.updated", {"user_id": user_id, "online": online}))


def connected(schema_name: str, user_id: int) -> None:
    redis = get_redis()
    count = redis.hincrby(_key(schema_name), str(user_id), 1)
    redis.expire(_key(schema_name), TTL_SECONDS)
    if count == 1:
        _announce(schema_name, user_id, True)


def disconnected(schema_name: str, user_id: int) -> None:
    redis = get_redis()
    count = redis.hincrby(_key(schema_name), str(user_id), -1)
    if count <= 0:
        redis.hdel(_key(schema_name), str(user_id))
        _announce(schema_name, user_id, False)


def online_user_ids(schema_name: str) -> set[int]:
    counts = get_redis().hgetall(_key(schema_name))
    return {int(user_id) for user_id, count in counts.items() if int(count) > 0}
