"""The `http` node against a fake endpoint on 127.0.0.1: mapping, error branch, timeout, the
outbound guard, redirects; live (a worker makes the call) and in the simulator."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_tenants.utils import schema_context

from apps.conversations.models import Message
from apps.flows.models import FlowSession
from tests.fixtures.messaging import new_phone
from tests.flows.conftest import make_flow, play

pytestmark = pytest.mark.django_db


class Endpoint(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Endpoint.seen.append((self.command, self.path, self.headers.get("X-Shop"), body))
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        if self.path.startswith("/broken"):
            self.send_response(500)
            self.end_headers()
            return
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/orders/1")
            self.end_headers()
            return
        payload = json.dumps({"order": {"status": "shipped", "items": [{"sku": "A-1"}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def order_graph(url: str, *, timeout: float = 1) -> dict:
    return {
        "start": "ask",
        "nodes": {
            "ask": {
                "type": "question",
                "text": "Order number?",
                "variable": "order",
                "validation": {"type": "number"},
                "next": "lookup",
            },
            "lookup": {
                "type": "http",
                "method": "POST",
                "url": url + "?n={{order}}",
                "headers": {"X-Shop": "acme"},
                "body": {"order": "{{order}}", "phone": "{{contact.phone}}"},
                "timeout": timeout,
                "map": {"status": "order.status", "sku": "order.items.0.sku"},
                "next": "found",
                "error": "sorry",
            },
            "found": {"type": "end", "text": "Order {{order}} ({{sku}}) is {{status}}."},
            "sorry": {"type": "handoff", "text": "We could not look it up; a person will help."},
        },
    }


def run_live(alpha, desk, api, graph, django_capture_on_commit_callbacks) -> tuple[list[str], FlowSession]:
    inbox = desk["inbox"]
    make_flow(alpha, graph=graph, trigger={"type": "new_conversation", "inbox_id": inbox.pk})
    phone = new_phone()
    for text in ("Hi", "42"):
        with django_capture_on_commit_callbacks(execute=True):
            play(api, alpha, inbox, phone, text)
    with schema_context(alpha.schema_name):
        lines = list(
            Message.objects.filter(conversation__contact__phone=phone, sender_type="bot")
            .order_by("pk")
            .values_list("text", flat=True)
        )
        return lines, FlowSession.objects.select_related("conversation").get(
            conversation__contact__phone=phone
        )


def test_a_live_call_maps_the_response_into_variables(
    alpha, desk, api, endpoint, django_capture_on_commit_callbacks
):
    Endpoint.seen.clear()
    lines, session = run_live(
        alpha, desk, api, order_graph(endpoint + "/orders"), django_capture_on_commit_callbacks
    )

    assert lines == ["Order number?", "Order 42 (A-1) is shipped."]
    assert (session.status, session.variables["status"]) == ("completed", "shipped")
    [(method, path, shop, body)] = Endpoint.seen
    assert (method, path, shop) == ("POST", "/orders?n=42", "acme")
    assert json.loads(body)["order"] == "42"


def test_a_failing_endpoint_follows_the_error_branch(
    alpha, desk, api, endpoint, django_capture_on_commit_callbacks
):
    lines, session = run_live(
        alpha, desk, api, order_graph(endpoint + "/broken"), django_capture_on_commit_callbacks
    )

    assert lines[-1] == "We could not look it up; a person will help."
    assert (session.status, session.variables["http_error"]) == ("handed_off", "HTTP 500")
    assert session.conversation.status == "queued"


def test_a_slow_endpoint_times_out_into_the_error_branch(
    alpha, desk, api, endpoint, django_capture_on_commit_callbacks
):
    started = time.monotonic()
    lines, session = run_live(
        alpha, desk, api, order_graph(endpoint + "/slow", timeout=0.3), django_capture_on_commit_callbacks
    )

    assert time.monotonic() - started < 1.5 + 1.0
    assert session.variables["http_error"] == "timeout"
    assert lines[-1] == "We could not look it up; a person will help."


def test_internal_addresses_are_refused_and_redirects_not_followed(alpha, desk, endpoint, settings):
    flow = make_flow(alpha, graph=order_graph(endpoint + "/orders"))
    simulate = desk["api"]["supervisor"].post
    Endpoint.seen.clear()

    settings.OUTBOUND_ALLOW_PRIVATE = False
    guarded = simulate(f"/api/v1/flows/{flow.pk}/simulate", {"inputs": ["42"]}).json()
    settings.OUTBOUND_ALLOW_PRIVATE = True
    moved = make_flow(alpha, graph=order_graph(endpoint + "/moved"))
    redirected = simulate(f"/api/v1/flows/{moved.pk}/simulate", {"inputs": ["42"]}).json()

    assert guarded["ended_by"] == "handoff"
    assert guarded["variables"]["http_error"].startswith("refused: ")
    assert redirected["variables"]["http_error"] == "HTTP 302"
    assert [path for _m, path, _s, _b in Endpoint.seen] == ["/moved?n=42"]  # never /orders, never followed


def test_simulate_answers_http_nodes_from_scripted_responses(alpha, desk):
    flow = make_flow(alpha, graph=order_graph("https://shop.example.com/orders"))
    scripted = {"lookup": {"status": 200, "body": {"order": {"status": "packed", "items": [{"sku": "B-7"}]}}}}

    body = (
        desk["api"]["agent"]
        .post(f"/api/v1/flows/{flow.pk}/simulate", {"inputs": ["7"], "http_responses": scripted})
        .json()
    )

    assert body["transcript"][-1] == {"from": "bot", "text": "Order 7 (B-7) is packed."}
    assert body["variables"] == {"order": 7, "status": "packed", "sku": "B-7"}
