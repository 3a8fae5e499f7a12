"""Django's ASGI handler, with the middleware chain and views run synchronously in one thread hop,
on threads that live as long as the process."""

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler

# Idle request threads kept for the next requests; past a burst, the extra ones end.
IDLE_THREADS_KEPT = 32


class SyncChainASGIHandler(ASGIHandler):
    """Our middleware and views are synchronous (they read the database) while Django's own can run
    either way. Loaded for async, Django adapts the chain at every boundary between the two kinds:
    about sixteen thread hops and context copies per request, some 6 ms of CPU, a third of what an
    API list costs. Loaded for sync, the whole request runs in one worker thread, entered once.

    That thread is one of the handler's own. Django enters a fresh `ThreadSensitiveContext` per
    request, for which asgiref starts a new thread and, when the request ends, another one to join
    it: two thread starts per request, and a worker thread whose connections and caches die with
    it. Here each request borrows a single-thread executor that nobody else uses meanwhile and gives
    it back, so its thread serves request after request as a WSGI server's threads do. A request
    the client abandoned may leave its view running: the executor's queue makes the next request
    wait for it, never run beside it.

    At most `WEB_REQUEST_THREADS` requests run the chain at once; the others wait on the event loop.
    The chain is Python holding the GIL between short database waits: sixteen threads taking turns
    for it spent a fifth more CPU per request (the list at 16 clients: 7.8 ms against 6.8 ms with
    two at a time) and made the slowest requests slower, not the average one faster. The bound holds
    only while the chain runs: a slow client reading a long response takes no slot.
    """

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._idle: collections.deque[ThreadPoolExecutor] = collections.deque()
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # Only the event loop's thread takes and returns executors: no lock needed.
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="django-request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < IDLE_THREADS_KEPT:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    async def get_response_async(self, request):
        async with self._running_slots():
            return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    def _running_slots(self) -> asyncio.Semaphore:
        # A semaphore belongs to the loop it first waited on; a server has one loop, tests several.
        loop = asyncio.get_running_loop()
        if self._slots_loop is not loop:
            self._slots_loop, self._slots = loop, asyncio.Semaphore(settings.WEB_REQUEST_THREADS)
        return self._slots
