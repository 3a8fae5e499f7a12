"""Who acts through the platform API: the services audit the super-admin and the request's meta."""

from conversa.request_meta import RequestMeta


def acting(request) -> dict:
    """Keyword arguments for a tenants service: `actor` (the signed-in super-admin) and `meta`."""
    return {"actor": request.auth, "meta": RequestMeta.of(request, source="api")}
