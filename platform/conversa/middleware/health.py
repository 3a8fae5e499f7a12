"""`/health` and `/health/ready`, answered before tenant resolution so any host can probe them."""

import time

from django.db import connection
from django.http import JsonResponse

from conversa.redis import get_redis


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


def readiness() -> tuple[bool, dict]:
    """Ready when the database and Redis answer. clamd is reported but not required: without it the
    web keeps serving and uploads wait in quarantine until it is back."""
    checks = {"database": _timed(_check_database), "redis": _timed(get_redis().ping), "clamd": _clamd()}
    return all(checks[name]["status"] == "ok" for name in ("database", "redis")), checks


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/health":
            return JsonResponse({"status": "ok"})
        if request.path == "/health/ready":
            ready, checks = readiness()
            return JsonResponse(
                {"status": "ok" if ready else "unavailable", "checks": checks},
                status=200 if ready else 503,
            )
        return self.get_response(request)
