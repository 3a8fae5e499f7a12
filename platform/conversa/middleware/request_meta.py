"""Remember who sent the request being served (IP, user agent) for the audit entries it writes."""

from conversa.request_meta import RequestMeta, serving


class RequestMetaMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = "api" if request.path.startswith("/api/") else "web"
        with serving(RequestMeta.of(request, source=source)):
            return self.get_response(request)
