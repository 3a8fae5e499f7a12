"""Article views counted in Redis on each help-centre view (no database write on that path) and
added to the articles by a periodic task (`apps.knowledge.tasks.help_views_flush`)."""

from django.db import connection, transaction
from django.db.models import F

from apps.knowledge.models import Article
from conversa.redis import get_redis, redis_key

# Read the counts and clear them in one step: a view counted meanwhile waits for the next flush.
_TAKE = """
local counts = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return counts
"""


def _key(schema_name: str) -> str:
    return redis_key("kb", "views", schema_name)


def view_count(article_id: int) -> None:
    get_redis().hincrby(_key(connection.schema_name), str(article_id), 1)


def pending_views(article_id: int) -> int:
    return int(get_redis().hget(_key(connection.schema_name), str(article_id)) or 0)


def views_flush() -> int:
    """Add the views counted since the last flush to the articles; returns how many were added.
    If the database refuses, the counts go back to Redis for the next run."""
    redis = get_redis()
    key = _key(connection.schema_name)
    raw = redis.eval(_TAKE, 1, key)
    counts = {int(raw[i]): int(raw[i + 1]) for i in range(0, len(raw), 2)}
    if not counts:
        return 0
    try:
        with transaction.atomic():
            for article_id, views in sorted(counts.items()):
                Article.objects.filter(pk=article_id).update(views=F("views") + views)
    except Exception:
        pipe = redis.pipeline()
        for article_id, views in counts.items():
            pipe.hincrby(key, str(article_id), views)
        pipe.execute()
        raise
    return sum(counts.values())
