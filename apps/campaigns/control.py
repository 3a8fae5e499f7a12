"""The stop signal from services to a running sender, through Redis (read before every send).

Pause and cancel commit the new status, then raise the flag; the sender sees it within one send
(or one wait for a rate slot, which polls it), puts back what it claimed but did not send, and
stops. The database status stays the truth: the flag only saves the sender a query per send.
"""

import datetime as dt
import os

from conversa.redis import get_redis, redis_key

FLAG_SECONDS = 3600
# A reply within this long after a campaign's send is linked to the campaign.
REPLY_WINDOW = dt.timedelta(days=7)
_client = {"pid": 0, "redis": None}


def shared_redis():
    """One client (and connection pool) per process: the sender asks Redis before every send, and
    `get_redis()` builds a new pool, hence a new connection, on each call."""
    if _client["pid"] != os.getpid() or _client["redis"] is None:
        _client["pid"], _client["redis"] = os.getpid(), get_redis()
    return _client["redis"]


def _key(schema_name: str, campaign_id: int) -> str:
    return redis_key("campaign-stop", schema_name, campaign_id)


def raise_stop(schema_name: str, campaign_id: int) -> None:
    shared_redis().set(_key(schema_name, campaign_id), "1", ex=FLAG_SECONDS)


def clear_stop(schema_name: str, campaign_id: int) -> None:
    shared_redis().delete(_key(schema_name, campaign_id))


def stop_raised(schema_name: str, campaign_id: int) -> bool:
    return bool(shared_redis().exists(_key(schema_name, campaign_id)))


def _sent_key(schema_name: str, inbox_id: int) -> str:
    return redis_key("campaign-sent-recently", schema_name, inbox_id)


def mark_sent_recently(schema_name: str, inbox_id: int) -> None:
    """A campaign is sending on this inbox: its replies may need linking for REPLY_WINDOW."""
    shared_redis().set(_sent_key(schema_name, inbox_id), "1", ex=int(REPLY_WINDOW.total_seconds()))


def sent_recently(schema_name: str, inbox_ids) -> set[int]:
    """Which of these inboxes a campaign sent on within REPLY_WINDOW (one round trip)."""
    inbox_ids = sorted(set(inbox_ids))
    if not inbox_ids:
        return set()
    flags = shared_redis().mget([_sent_key(schema_name, pk) for pk in inbox_ids])
    return {pk for pk, flag in zip(inbox_ids, flags, strict=True) if flag}
