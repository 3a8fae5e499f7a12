"""Django's ASGI handler, with the middleware chain and views run synchronously in one thread hop."""

from asgiref.sync import sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    """Our middleware and views are synchronous (they read the database) while Django's own can run
    either way. Loaded for async, Django adapts the chain at every boundary between the two kinds:
    about sixteen thread hops and context copies per request, some 6 ms of CPU, a third of what an
    API list costs. Loaded for sync, the whole request runs in one worker thread, entered once."""

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
