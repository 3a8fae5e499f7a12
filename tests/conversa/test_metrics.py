"""`/metrics` (SPEC §13, §15.1): only on BASE_DOMAIN, only with METRICS_TOKEN, Prometheus text that
prometheus_client parses, adding up what every process recorded (through Redis)."""

import socket
import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from apps.conversations.drain import webhook_events_sweep
from conversa import metrics
from tests.conftest import host_of
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(host="localhost", token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(HTTP_HOST=host).get("/metrics", headers=headers)


def parsed() -> dict:
    """{metric family name: {(sample name, sorted labels): value}} of one authorised scrape."""
    response = scrape()
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families[family.name] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in family.samples
        }
    return families


def value(families, family, sample, **labels) -> float:
    return families.get(family, {}).get((sample, tuple(sorted(labels.items()))), 0.0)


def test_without_the_token_or_with_a_wrong_one_the_answer_is_401(token):
    assert scrape(token=None).status_code == 401
    wrong = scrape(token=TOKEN[:-1] + "x")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert Client(HTTP_HOST="localhost").get("/metrics", headers={"Authorization": TOKEN}).status_code == 401


def test_a_tenant_host_has_no_metrics_and_an_unset_token_turns_them_off(alpha, token, settings):
    assert scrape(host=host_of(alpha)).status_code == 404
    settings.METRICS_TOKEN = ""
    assert scrape(token="").status_code == 404
    assert scrape().status_code == 404


def test_requests_are_counted_and_timed_by_route_pattern_not_by_path(api, alpha, token):
    route = "/api/v1/conversations/<int:conversation_id>"
    before = parsed()
    admin = make_user(alpha, role="admin")
    client = api(alpha, token=api(alpha).login(admin.email)["access"])
    for conversation_id in (987001, 987002, 987003):
        assert client.get(f"/api/v1/conversations/{conversation_id}").status_code == 404

    after = parsed()
    requests = ("conversa_http_requests", "conversa_http_requests_total")
    assert value(after, *requests, method="GET", route=route, status="4xx") - value(
        before, *requests, method="GET", route=route, status="4xx") == 3
    duration = "conversa_http_request_duration_seconds"
    count = value(after, duration, f"{duration}_count", method="GET", route=route)
    assert count - value(before, duration, f"{duration}_count", method="GET", route=route) == 3
    assert value(after, duration, f"{duration}_bucket", method="GET", route=route, le="+Inf") == count
    assert value(after, duration, f"{duration}_bucket", method="GET", route=route, le="10.0") <= count
    text = scrape().content.decode()
    labels = {value for family in text_string_to_metric_families(text) for sample in family.samples
              for value in sample.labels.values()}
    assert not [label for label in labels if "987001" in label]  # a value may hold the digits by chance
    assert admin.email not in text and alpha.slug not in text


def test_the_queue_tasks_companies_and_sockets_are_reported(alpha, bravo, token):
    webhook_events_sweep(alpha.schema_name)  # runs inline (immediate mode), timed by its signals
    families = parsed()

    assert ("conversa_huey_queue_pending", ()) in families["conversa_huey_queue_pending"]
    task = "apps.conversations.drain.webhook_events_sweep"
    assert value(families, "conversa_huey_task_duration_seconds",
                 "conversa_huey_task_duration_seconds_count", task=task, outcome="complete") >= 1
    assert ("conversa_websocket_connections", ()) in families["conversa_websocket_connections"]
    assert value(families, "conversa_companies", "conversa_companies", status="active") >= 2
    company_ids = {dict(labels)["company_id"] for _name, labels in families["conversa_company_contacts"]}
    assert {str(alpha.pk), str(bravo.pk)} <= company_ids and all(pk.isdigit() for pk in company_ids)


def test_the_per_company_series_stop_at_their_limit_and_say_how_many_were_left_out(alpha, token, settings):
    settings.METRICS_COMPANY_SERIES = 1
    families = parsed()
    assert len(families["conversa_company_agents"]) == 1
    assert value(families, "conversa_metrics_companies_omitted", "conversa_metrics_companies_omitted") >= 1


def test_figures_of_several_processes_add_up(token):
    """Two recorders stand for two processes (web and worker, maybe on two machines)."""
    web, worker = metrics.Recorder(), metrics.Recorder()
    web.process, worker.process = "web-1:10", "worker-2:20"
    before = parsed()
    web.inc(metrics.CAMPAIGN_SENDS, status="sent")
    worker.inc(metrics.CAMPAIGN_SENDS, 2, status="sent")
    web.observe(metrics.CLAMD_SCAN, 0.02, result="clean")
    worker.observe(metrics.CLAMD_SCAN, 7.0, result="clean")
    web.gauge_add(metrics.WEBSOCKETS_OPEN, 3)
    worker.gauge_add(metrics.WEBSOCKETS_OPEN, 1)
    web.flush()
    worker.flush()

    after = parsed()
    sends = ("conversa_campaign_sends", "conversa_campaign_sends_total")
    assert value(after, *sends, status="sent") - value(before, *sends, status="sent") == 3
    scans = "conversa_clamd_scan_duration_seconds"

    def delta(le):
        return value(after, scans, f"{scans}_bucket", result="clean", le=le) - value(
            before, scans, f"{scans}_bucket", result="clean", le=le)

    assert (delta("0.025"), delta("5.0"), delta("10.0"), delta("+Inf")) == (1, 1, 2, 2)
    sockets = ("conversa_websocket_connections", "conversa_websocket_connections")
    assert value(after, *sockets) - value(before, *sockets) == 4
    # A process that stops reporting stops counting.
    stale = metrics.stored()
    assert sum(f.samples[0].value for f in metrics.families(stale, now=time.time() + 60)
               if f.name == "conversa_websocket_connections") == 0


@pytest.mark.live
def test_an_open_websocket_on_a_server_process_is_counted_until_it_closes(alpha, asgi_server, token):
    """The server process records the socket; this process's scrape sees it through Redis."""
    baseline = settled_sockets()
    url = asgi_server.ws_url(f"{alpha.slug}.localhost")
    tcp = socket.create_connection(("127.0.0.1", asgi_server.port), timeout=5)
    with connect(url, sock=tcp, open_timeout=5):
        assert wait_for_sockets(baseline + 1) == baseline + 1
    assert wait_for_sockets(baseline) == baseline


def settled_sockets(timeout: float = 10.0) -> float:
    """The scraped gauge once two scrapes a flush apart agree: sockets of earlier tests on the same
    server may still be on their way in or out of it."""
    deadline = time.monotonic() + timeout
    seen = value(parsed(), "conversa_websocket_connections", "conversa_websocket_connections")
    while time.monotonic() < deadline:
        time.sleep(1.2)
        again = value(parsed(), "conversa_websocket_connections", "conversa_websocket_connections")
        if again == seen:
            break
        seen = again
    return seen


def wait_for_sockets(expected: float, timeout: float = 5.0) -> float:
    """The scraped gauge once it equals `expected` (the server flushes about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = value(parsed(), "conversa_websocket_connections", "conversa_websocket_connections")
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)
