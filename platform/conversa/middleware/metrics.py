"""Count and time every HTTP request by its route pattern (never its raw path) and status class."""

import time

from conversa import metrics

UNMATCHED = "(unmatched)"


def route_of(request) -> str:
    """The URL pattern that answered ("api/v1/conversations/<int:conversation_id>"), so ids and
    phone numbers in paths never become labels; requests that matched no pattern share one."""
    match = getattr(request, "resolver_match", None)
    return f"/{match.route}" if match is not None else UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        method = request.method if request.method in METHODS else "OTHER"
        status = f"{response.status_code // 100}xx"
        metrics.inc(metrics.HTTP_REQUESTS, method=method, route=route, status=status)
        metrics.observe(metrics.HTTP_DURATION, elapsed, method=method, route=route)
        return response


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
