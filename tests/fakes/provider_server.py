"""A fake Meta Cloud API and Twilio API on 127.0.0.1 that speaks their real request and response shapes.

Tests point provider clients at `server.url`, register credentials and media, inject failures and
delays, and read back what arrived:

    with FakeProviderServer() as server:
        server.register_meta("1234", "token")
        ...
        assert server.accepted[0].json["text"]["body"] == "hi"
"""

import base64
import hashlib
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

META_SEND = re.compile(r"^/(v\d+\.\d+)/([^/]+)/messages$")
META_MEDIA_INFO = re.compile(r"^/(v\d+\.\d+)/([^/]+)$")
META_MEDIA_BYTES = re.compile(r"^/meta-media/([^/]+)$")
TWILIO_SEND = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
TWILIO_MEDIA = re.compile(r"^/twilio-media/([^/]+)$")
TWILIO_CDN = re.compile(r"^/twilio-media-cdn/([^/]+)$")

META_MESSAGE_TYPES = {"text", "image", "video", "audio", "document", "sticker", "template", "location",
                      "contacts", "interactive", "reaction"}
META_MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived. Header names are lower-cased; `form` keeps each key's first value."""

    time: float  # arrival, time.time()
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    form: dict[str, str]
    form_all: dict[str, list[str]]
    status: int  # what the fake answered


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    is_send: bool = False  # a send request: recorded as accepted (2xx) or failed

    @classmethod
    def json(cls, status: int, payload: Any, **kwargs) -> "_Response":
        return cls(status, json.dumps(payload).encode(), **kwargs)


@dataclass
class _Failure:
    remaining: int
    status: int
    retry_after: float | None
    path_contains: str | None
    code: int | None


@dataclass
class _Delay:
    remaining: int
    seconds: float


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (no daemon threads left writing to closed sockets), and open
    # keep-alive connections are tracked so that stop() can end them instead of waiting them out.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address, handler, fake: "FakeProviderServer"):
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A connection cut by stop() or by a client that went away is expected; anything else is a bug.
        if not self.fake.stopping:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs
    server_version = "FakeProvider/1.0"
    timeout = 30  # an idle keep-alive connection ends by itself
    # Headers and body go out as two writes: with Nagle on, the body waited ~40 ms for the client's
    # delayed ACK of the headers on every keep-alive request (25 sends a second at most).
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self):
        self.server.fake._handle(self)

    do_POST = do_GET

    def log_message(self, format, *args):
        pass  # tests read the records, not a log


def _new_wamid() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def _meta_error(status: int, message: str, code: int, *, subcode: int | None = None,
                error_type: str = "OAuthException", headers: dict[str, str] | None = None,
                is_send: bool = False) -> _Response:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return _Response.json(status, {"error": error}, headers=headers or {}, is_send=is_send)


def _twilio_error(status: int, code: int, message: str, *, headers: dict[str, str] | None = None,
                  is_send: bool = False) -> _Response:
    payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
               "status": status}
    return _Response.json(status, payload, headers=headers or {}, is_send=is_send)


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _basic(headers: dict[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


class FakeProviderServer:
    """Meta Cloud API and Twilio REST API, in one threaded HTTP server on a random local port.

    `reset()` forgets requests, injected failures and delays; credentials and media stay registered.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._meta_tokens: dict[str, str] = {}
        self._twilio_tokens: dict[str, str] = {}
        self._meta_media: dict[str, tuple[bytes, str]] = {}
        self._twilio_media: dict[str, tuple[bytes, str, bool]] = {}
        self._twilio_cdn: dict[str, str] = {}
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._requests: list[RecordedRequest] = []
        self._accepted: list[RecordedRequest] = []
        self._failed: list[RecordedRequest] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "FakeProviderServer":
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-provider-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes delayed handlers
        self._httpd.shutdown()
        with self._httpd.connections_lock:
            connections = list(self._httpd.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        self._httpd.server_close()  # joins the handler threads
        self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> "FakeProviderServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake provider server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- set-up --------------------------------------------------------------------------------

    def register_meta(self, phone_number_id: str, access_token: str) -> None:
        with self._lock:
            self._meta_tokens[phone_number_id] = access_token

    def register_twilio(self, account_sid: str, auth_token: str) -> None:
        with self._lock:
            self._twilio_tokens[account_sid] = auth_token

    def add_meta_media(self, media_id: str, data: bytes, mime: str) -> None:
        with self._lock:
            self._meta_media[media_id] = (data, mime)

    def add_twilio_media(self, name: str, data: bytes, mime: str, *, redirect: bool = False) -> str:
        """Serve media at the returned URL (basic auth). With `redirect`, answer it like Twilio does:
        a 307 to a pre-signed CDN URL that refuses any Authorization header."""
        with self._lock:
            self._twilio_media[name] = (data, mime, redirect)
        return f"{self.url}/twilio-media/{name}"

    def fail_next(self, n: int = 1, status: int = 500, retry_after: float | None = None,
                  path_contains: str | None = None, code: int | None = None) -> None:
        """Answer the next `n` send requests (whose path contains `path_contains`) with `status`.

        The error body is the API's own; `code` replaces its default error code (Meta: 130429 for a
        429, else 131000; Twilio: 20429 for a 429, else 20500).
        """
        with self._lock:
            self._failures.append(_Failure(n, status, retry_after, path_contains, code))

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """Sleep `seconds` before answering the next `n` send requests (stop() cuts the sleep short)."""
        with self._lock:
            self._delays.append(_Delay(n, seconds))

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self._requests.clear()
            self._accepted.clear()
            self._failed.clear()

    # --- what arrived ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> list[RecordedRequest]:
        """Send requests the fake accepted, in the order it answered them."""
        with self._lock:
            return list(self._accepted)

    @property
    def failed(self) -> list[RecordedRequest]:
        """Send requests the fake refused (injected failures, bad auth, invalid bodies)."""
        with self._lock:
            return list(self._failed)

    def count_accepted(self) -> int:
        with self._lock:
            return len(self._accepted)

    def wait_for_accepted(self, n: int, timeout: float, where=None) -> bool:
        """Wait until `n` accepted sends (those `where(record)` is true for, if given) arrived."""
        def enough():
            return sum(1 for record in self._accepted if where is None or where(record)) >= n

        with self._changed:
            return self._changed.wait_for(enough, timeout=timeout)

    def max_in_window(self, seconds: float = 1.0, where=None) -> int:
        """The most accepted sends (matching `where`) whose arrival times fall in any window
        [t, t + seconds)."""
        times = sorted(record.time for record in self.accepted if where is None or where(record))
        best, end = 0, 0
        for start, t in enumerate(times):
            while end < len(times) and times[end] < t + seconds:
                end += 1
            best = max(best, end - start)
        return best

    # --- request handling --------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        arrival = time.time()
        parts = urlsplit(handler.path)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        parsed_json, form_all = None, {}
        content_type = headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                parsed_json = json.loads(body or b"null")
            except ValueError:
                parsed_json = None
        elif content_type.startswith("application/x-www-form-urlencoded"):
            form_all = parse_qs(body.decode(), keep_blank_values=True)
        form = {key: values[0] for key, values in form_all.items()}
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}

        response = self._route(handler.command, parts.path, headers, parsed_json, form, form_all)
        if response is None:  # stopped while delaying: hang up without an answer
            handler.close_connection = True
            return

        record = RecordedRequest(arrival, handler.command, parts.path, query, headers, body, parsed_json,
                                 form, form_all, response.status)
        with self._changed:
            self._requests.append(record)
            if response.is_send:
                (self._accepted if response.status < 400 else self._failed).append(record)
            self._changed.notify_all()

        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout in a test): the request still counts as answered, as it
            # would at the real provider.
            handler.close_connection = True

    def _route(self, method: str, path: str, headers: dict[str, str], body: Any, form: dict[str, str],
               form_all: dict[str, list[str]]) -> _Response | None:
        if method == "POST" and (match := META_SEND.match(path)):
            return self._send(path, "meta", lambda: self._meta_send(match.group(2), headers, body))
        if method == "POST" and (match := TWILIO_SEND.match(path)):
            sid = match.group(1)
            return self._send(path, "twilio", lambda: self._twilio_send(sid, headers, form, form_all))
        if method == "GET" and (match := META_MEDIA_BYTES.match(path)):
            return self._meta_media_bytes(match.group(1), headers)
        if method == "GET" and (match := META_MEDIA_INFO.match(path)):
            return self._meta_media_info(match.group(2), headers)
        if method == "GET" and (match := TWILIO_MEDIA.match(path)):
            return self._twilio_media_get(match.group(1), headers)
        if method == "GET" and (match := TWILIO_CDN.match(path)):
            return self._twilio_cdn_get(match.group(1), headers)
        return _Response.json(404, {"error": f"no route for {method} {path}"})

    def _send(self, path: str, api: str, answer) -> _Response | None:
        """Apply an injected delay and failure to a send request, else let `answer` decide."""
        with self._lock:
            delay = self._take(self._delays, lambda _: True)
            failure = self._take(self._failures,
                                 lambda f: f.path_contains is None or f.path_contains in path)
        if delay is not None and self._stopping.wait(delay.seconds):
            return None
        if failure is None:
            return answer()
        headers = {} if failure.retry_after is None else {"Retry-After": f"{failure.retry_after:g}"}
        if api == "meta":
            if failure.status == 429:
                code, message = failure.code or 130429, "Rate limit hit"
            else:
                code, message = failure.code or 131000, "Something went wrong"
            return _meta_error(failure.status, f"(#{code}) {message}", code, headers=headers, is_send=True)
        if failure.status == 429:
            code, message = failure.code or 20429, "Too Many Requests"
        else:
            code, message = failure.code or 20500, "Internal Server Error"
        return _twilio_error(failure.status, code, message, headers=headers, is_send=True)

    @staticmethod
    def _take(queue: list, matches):
        for item in queue:
            if matches(item):
                item.remaining -= 1
                if item.remaining <= 0:
                    queue.remove(item)
                return item
        return None

    # --- Meta ---------------------------------------------------------------------------------------

    def _meta_auth(self, headers: dict[str, str], phone_number_id: str | None = None) -> _Response | None:
        token = _bearer(headers)
        if not token:
            return _meta_error(401, "An active access token must be used to query information about the "
                                    "current user.", 190, is_send=phone_number_id is not None)
        with self._lock:
            valid = (set(self._meta_tokens.values()) if phone_number_id is None
                     else {self._meta_tokens.get(phone_number_id)})
        if token not in valid:
            return _meta_error(401, "Invalid OAuth access token - Cannot parse access token", 190,
                               is_send=phone_number_id is not None)
        return None

    def _meta_send(self, phone_number_id: str, headers: dict[str, str], body: Any) -> _Response:
        with self._lock:
            known = phone_number_id in self._meta_tokens
        if not known:
            return _meta_error(404, f"Unsupported post request. Object with ID '{phone_number_id}' does not "
                                    "exist, cannot be loaded due to missing permissions, or does not support "
                                    "this operation.", 100, subcode=33, error_type="GraphMethodException",
                               is_send=True)
        if refusal := self._meta_auth(headers, phone_number_id):
            return refusal
        if problem := _meta_body_problem(body):
            return _meta_error(400, f"(#100) {problem}", 100, is_send=True)
        to = body["to"]
        return _Response.json(200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to)}],
            "messages": [{"id": _new_wamid()}],
        }, is_send=True)

    def _meta_media_info(self, media_id: str, headers: dict[str, str]) -> _Response:
        if refusal := self._meta_auth(headers):
            return refusal
        with self._lock:
            media = self._meta_media.get(media_id)
        if media is None:
            return _meta_error(404, f"Unsupported get request. Object with ID '{media_id}' does not exist",
                               100, subcode=33, error_type="GraphMethodException")
        data, mime = media
        return _Response.json(200, {
            "messaging_product": "whatsapp", "url": f"{self.url}/meta-media/{media_id}", "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data), "id": media_id,
        })

    def _meta_media_bytes(self, media_id: str, headers: dict[str, str]) -> _Response:
        if refusal := self._meta_auth(headers):
            return refusal
        with self._lock:
            media = self._meta_media.get(media_id)
        if media is None:
            return _Response(404, b"Not Found", content_type="text/plain")
        return _Response(200, media[0], content_type=media[1])

    # --- Twilio -------------------------------------------------------------------------------------

    def _twilio_auth(self, headers: dict[str, str]) -> str | None:
        """The authenticated account sid, or None."""
        credentials = _basic(headers)
        if credentials is None:
            return None
        sid, token = credentials
        with self._lock:
            expected = self._twilio_tokens.get(sid)
        return sid if expected is not None and secrets.compare_digest(expected, token) else None

    def _twilio_send(self, account_sid: str, headers: dict[str, str], form: dict[str, str],
                     form_all: dict[str, list[str]]) -> _Response:
        authenticated = self._twilio_auth(headers)
        if authenticated is None:
            return _twilio_error(401, 20003, "Authenticate", is_send=True)
        if authenticated != account_sid:
            return _twilio_error(404, 20404, f"The requested resource /2010-04-01/Accounts/{account_sid}/"
                                             "Messages.json was not found", is_send=True)
        if problem := _twilio_form_problem(form):
            return _twilio_error(400, *problem, is_send=True)
        sid = "SM" + secrets.token_hex(16)
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
        return _Response.json(201, {
            "account_sid": account_sid, "api_version": "2010-04-01", "body": form.get("Body", ""),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form["From"], "messaging_service_sid": None,
            "num_media": str(len(form_all.get("MediaUrl", []))), "num_segments": "1", "price": None,
            "price_unit": "USD", "sid": sid, "status": "queued", "to": form["To"], "uri": f"{uri}.json",
            "subresource_uris": {"media": f"{uri}/Media.json"},
        }, is_send=True)

    def _twilio_media_get(self, name: str, headers: dict[str, str]) -> _Response:
        if self._twilio_auth(headers) is None:
            return _twilio_error(401, 20003, "Authenticate")
        with self._lock:
            media = self._twilio_media.get(name)
            if media is not None and media[2]:
                signature = secrets.token_urlsafe(16)
                self._twilio_cdn[signature] = name
        if media is None:
            return _twilio_error(404, 20404, "The requested resource was not found")
        if media[2]:
            return _Response(307, b"", headers={"Location": f"{self.url}/twilio-media-cdn/{signature}"})
        return _Response(200, media[0], content_type=media[1])

    def _twilio_cdn_get(self, signature: str, headers: dict[str, str]) -> _Response:
        # Like a pre-signed S3 URL: the signature is the credential, and a second one is an error.
        if "authorization" in headers:
            return _Response(400, b"Only one auth mechanism allowed", content_type="text/plain")
        with self._lock:
            name = self._twilio_cdn.get(signature)
            media = self._twilio_media.get(name) if name else None
        if media is None:
            return _Response(403, b"Access Denied", content_type="text/plain")
        return _Response(200, media[0], content_type=media[1])


def _meta_body_problem(body: Any) -> str | None:
    """What Meta would refuse in a message body (a few of its real checks), or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "The parameter to is required."
    kind = body.get("type", "text")
    if kind not in META_MESSAGE_TYPES:
        return f"Invalid parameter: type {kind!r}"
    payload = body.get(kind)
    if not isinstance(payload, dict):
        return f"The parameter {kind} is required."
    if kind == "text" and not (isinstance(payload.get("body"), str) and payload["body"]):
        return "The parameter text['body'] is required."
    if kind in META_MEDIA_TYPES and ("link" in payload) == ("id" in payload):
        return f"Param {kind} must contain exactly one of link or id."
    if kind == "template" and not (payload.get("name") and isinstance(payload.get("language"), dict)
                                   and payload["language"].get("code")):
        return "The parameters template['name'] and template['language']['code'] are required."
    return None


def _twilio_form_problem(form: dict[str, str]) -> tuple[int, str] | None:
    """(code, message) of what Twilio would refuse in a Messages.json form (a few real checks), or None."""
    if not form.get("To"):
        return 21604, "A 'To' phone number is required."
    if not form.get("From"):
        return 21603, "A 'From' phone number is required."
    if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
        return 21619, "A text message body or media urls must be specified."
    if form["To"].startswith("whatsapp:") != form["From"].startswith("whatsapp:"):
        return 21910, "Invalid From and To pair. From and To should be of the same channel"
    if len(form.get("Body", "")) > 1600:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    if "ContentVariables" in form:
        try:
            if not isinstance(json.loads(form["ContentVariables"]), dict):
                raise ValueError
        except ValueError:
            return 21656, "The ContentVariables Parameter is invalid."
    return None
