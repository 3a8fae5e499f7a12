"""The ASGI handler serves request after request on the same threads instead of two new ones each."""

import asyncio
import threading
import time

from asgiref.testing import ApplicationCommunicator

from conversa.asgi_handler import IDLE_THREADS_KEPT, SyncChainASGIHandler


def request_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("django-request")}


async def get_health(handler):
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": "/health",
             "raw_path": b"/health", "query_string": b"", "headers": [(b"host", b"localhost")],
             "scheme": "http", "server": ("localhost", 80), "client": ("127.0.0.1", 40000)}
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    assert start["status"] == 200, start
    await communicator.receive_output(timeout=10)  # the body
    await communicator.wait(timeout=10)


def test_sequential_requests_share_one_thread_and_a_burst_keeps_a_bounded_few():
    handler = SyncChainASGIHandler()
    before = request_threads()

    async def scenario():
        for _ in range(10):
            await get_health(handler)
        after_sequential = request_threads() - before
        await asyncio.gather(*(get_health(handler) for _ in range(IDLE_THREADS_KEPT + 8)))
        after_burst = request_threads() - before
        for _ in range(10):
            await get_health(handler)
        return after_sequential, after_burst, request_threads() - before

    after_sequential, after_burst, after_more = asyncio.run(scenario())
    assert len(after_sequential) == 1
    assert 1 < len(after_burst) <= IDLE_THREADS_KEPT + 8
    # The threads the burst needed beyond those kept end; later requests start none.
    assert len(after_more) <= IDLE_THREADS_KEPT
    assert len(handler._idle) <= IDLE_THREADS_KEPT


def test_no_more_requests_run_django_at_once_than_the_setting_allows(settings):
    settings.WEB_REQUEST_THREADS = 2
    handler = SyncChainASGIHandler()
    serve, running, most = handler.get_response, [], []
    lock = threading.Lock()

    def slow_response(request):
        with lock:
            running.append(1)
            most.append(len(running))
        time.sleep(0.05)  # a request waiting on its database
        with lock:
            running.pop()
        return serve(request)

    handler.get_response = slow_response

    async def burst():
        await asyncio.gather(*(get_health(handler) for _ in range(8)))

    started = time.perf_counter()
    asyncio.run(burst())
    assert max(most) == 2 and len(most) == 8  # every request answered 200, two at a time
    assert time.perf_counter() - started >= 4 * 0.05
