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


def readiness() -> tuple[bool, dict]:
    checks = {"database": _timed(_check_database), "redis": _timed(get_redis().ping)}
    return all(check["status"] == "ok" for check in checks.values()), checks


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
