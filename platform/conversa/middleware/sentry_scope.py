"""Tag Sentry events of a request with the tenant schema and the user id (never their email)."""

from django.db import connection

from conversa.sentry import tag_request


class SentryScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tag_request(
            schema_name=connection.schema_name,
            user_id=user.pk if user is not None and user.is_authenticated else None,
        )
        return self.get_response(request)
