"""Who has a conversation open right now, so agents see that a colleague is already on it.

Sockets subscribed to a conversation count as its viewers (in Redis, so every server process
agrees); each change sends `presence.updated` with the conversation's viewers to its subscribers.
"""

from conversa.realtime.fanout import event_message, send_to_groups
from conversa.redis import get_redis, redis_key

# A crashed server never decrements: counts expire unless someone opens the conversation again.
TTL_SECONDS = 6 * 3600


def _key(schema_name: str, conversation_id: int) -> str:
    return redis_key("viewers", schema_name, conversation_id)


def _names_key(schema_name: str) -> str:
    return redis_key("viewer-names", schema_name)


def viewers_of(schema_name: str, conversation_id: int) -> list[dict]:
    redis = get_redis()
    ids = sorted(int(user_id) for user_id, count in redis.hgetall(_key(schema_name, conversation_id)).items()
                 if int(count) > 0)
    names = redis.hmget(_names_key(schema_name), [str(user_id) for user_id in ids]) if ids else []
    return [{"user_id": user_id, "name": (name.decode() if isinstance(name, bytes) else name) or ""}
            for user_id, name in zip(ids, names, strict=True)]


def _announce(schema_name: str, group: str, conversation_id: int) -> None:
    data = {"conversation_id": conversation_id, "viewers": viewers_of(schema_name, conversation_id)}
    send_to_groups([group], event_message("presence.updated", data))


def opened(schema_name: str, group: str, conversation_id: int, user_id: int, name: str) -> None:
    redis = get_redis()
    key = _key(schema_name, conversation_id)
    redis.hset(_names_key(schema_name), str(user_id), name)
    redis.expire(_names_key(schema_name), TTL_SECONDS)
    redis.hincrby(key, str(user_id), 1)
    redis.expire(key, TTL_SECONDS)
    _announce(schema_name, group, conversation_id)


def closed(schema_name: str, group: str, conversation_id: int, user_id: int) -> None:
    redis = get_redis()
    key = _key(schema_name, conversation_id)
    if redis.hincrby(key, str(user_id), -1) <= 0:
        redis.hdel(key, str(user_id))
    _announce(schema_name, group, conversation_id)
