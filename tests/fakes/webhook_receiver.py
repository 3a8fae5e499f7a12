"""A webhook receiver on 127.0.0.1 for the outbound webhook tests, in a thread.

It records every POST as it arrived (raw body and headers, for signature checks) and answers from a
script: `fail_next(3)` answers 500 three times, `hang = True` never answers within the sender's
timeout (a dead endpoint), `delay` slows every answer.

    with WebhookReceiver() as receiver:
        receiver.fail_next(3)
        ... receiver.url ...
        assert receiver.received[-1].headers["x-conversa-event"] == "contact.created"
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    time: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered (0: it never did)

    @property
    def json(self):
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, *, hang_seconds: float = 30):
        self.received: list[Received] = []
        self.hang = False
        self.hang_seconds = hang_seconds
        self.delay = 0.0
        self._failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._answer()
                headers = {name.lower(): value for name, value in self.headers.items()}
                if status == 0:
                    receiver._record(Received(time.time(), self.path, headers, body, 0))
                    receiver._stop.wait(receiver.hang_seconds)
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver._record(Received(time.time(), self.path, headers, body, status))
                answer = json.dumps({"ok": status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def _answer(self) -> int:
        with self._lock:
            if self.hang:
                return 0
            if self._failures:
                self._failures -= 1
                return 500
            return 200

    def _record(self, request: Received) -> None:
        with self._lock:
            self.received.append(request)

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/hooks/conversa"

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
