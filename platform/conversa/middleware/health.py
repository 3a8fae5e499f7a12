"""`/health` and `/health/ready`, answered before tenant resolution so any host can probe them."""

import time

from django.db import connection
from django.http import JsonResponse

from conversa.redis import get_redis

# Without these the web cannot serve anything: a failure takes this process out of rotation (503).
REQUIRED = ("database", "redis")
# Without these some features wait (uploads stay in quarantine until clamd is back), but every
# request is still answered: the process reports `degraded` and stays in rotation (200), because
# taking every web process out of the load balancer for a scanner outage would turn a queue of
# unscanned files into a full outage.
OPTIONAL = ("clamd",)


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _clamd() -> dict:
    from apps.media.scanner import ping

    ok, latency = ping()
    return {"status": "ok" if ok else "error", "latency_ms": round(latency, 1)}


def readiness() -> tuple[str, dict]:
    """The overall verdict and one entry per dependency (`status`, `latency_ms`, `required`).

    `ok`: everything answers. `degraded`: only an optional dependency (clamd) fails. `unavailable`:
    the database or Redis fails.
    """
    checks = {"database": _timed(_check_database), "redis": _timed(get_redis().ping), "clamd": _clamd()}
    for name, check in checks.items():
        check["required"] = name in REQUIRED
    if any(checks[name]["status"] != "ok" for name in REQUIRED):
        return "unavailable", checks
    if any(checks[name]["status"] != "ok" for name in OPTIONAL):
        return "degraded", checks
    return "ok", checks


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/health":
            return JsonResponse({"status": "ok"})
        if request.path == "/health/ready":
            verdict, checks = readiness()
            return JsonResponse(
                {"status": verdict, "checks": checks}, status=503 if verdict == "unavailable" else 200,
            )
        return self.get_response(request)
