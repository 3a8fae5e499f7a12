"""ASGI middleware resolving the company from the Host header for websockets.

django-tenants' middleware only runs for HTTP; sockets need their own resolution, and every
database call a consumer makes must open the schema itself (the DB thread is shared).
"""

from channels.db import database_sync_to_async
from django_tenants.utils import get_public_schema_name, remove_www, schema_context


def host_from_scope(scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return remove_www(value.decode("latin-1").split(":")[0].lower())
    return ""


@database_sync_to_async
def company_for_host(host: str):
    """The company a socket's host serves, by the same rule as HTTP (verified domains only)."""
    from conversa.middleware.tenant import served_domain

    if not host:
        return None
    with schema_context(get_public_schema_name()):
        domain = served_domain(host)
        return domain.tenant if domain else None


class TenantFromHostMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        company = await company_for_host(host_from_scope(scope))
        if company is None:
            # Unknown host: refuse the handshake (the client sees HTTP 403), as for HTTP's 404.
            await send({"type": "websocket.close", "code": 4404})
            return
        scope = dict(scope, company=company, schema_name=company.schema_name)
        return await self.app(scope, receive, send)
