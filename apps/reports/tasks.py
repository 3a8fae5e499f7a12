"""Background work of reports: the coalesced `report.live` push, and rebuilding after a restore."""

from apps.reports import live
from apps.reports.rebuild import reports_rebuild
from conversa.redis import get_redis, redis_key
from conversa.tasks import tenant_task

# At most one `report.live` push per company per window; events inside it are folded into one
# trailing push at its end, so the last state always reaches the dashboards.
WINDOW_MS = 1000


def _keys(schema_name: str) -> tuple[str, str]:
    return redis_key("reports", "live", schema_name), redis_key("reports", "live-trailing", schema_name)


def live_push_request(schema_name: str) -> None:
    """Ask for a `report.live` push after something it shows changed: at once when none went out
    in the last second, else once when that second is over (a later request meanwhile is the same)."""
    redis = get_redis()
    window, trailing = _keys(schema_name)
    if redis.set(window, 1, nx=True, px=WINDOW_MS):
        reports_live_push(schema_name)
    elif redis.set(trailing, 1, nx=True, px=WINDOW_MS * 2):
        wait_ms = max(redis.pttl(window), 1)
        reports_live_push.schedule((schema_name,), delay=wait_ms / 1000)


@tenant_task()
def reports_live_push(schema_name: str) -> int:
    redis = get_redis()
    window, trailing = _keys(schema_name)
    # This push opens a new window; a request arriving from now on waits for its end.
    redis.delete(trailing)
    redis.set(window, 1, px=WINDOW_MS)
    return live.live_push(schema_name=schema_name)


@tenant_task()
def reports_rebuild_all(schema_name: str) -> dict:
    """A restored company's rollups (backups leave them out): rebuilt from its restored rows."""
    return reports_rebuild()
