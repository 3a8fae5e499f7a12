"""Tag Sentry events of a request with the tenant schema (the API's auth adds the user id)."""

from django.db import connection

from conversa.sentry import tag_tenant


class SentryScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tag_tenant(connection.schema_name)
        return self.get_response(request)
