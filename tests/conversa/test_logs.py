"""Secrets in URLs (the realtime token, media link signatures) never reach the server's log."""

import asyncio
import json
import logging

import pytest
import websockets

from conversa.logs import RedactSecretsFilter, redact
from tests.fixtures import live
from tests.fixtures.factories import PASSWORD, make_user


def test_token_and_signature_values_are_redacted_and_the_rest_kept():
    assert redact('127.0.0.1:5 - "WebSocket /ws/v1/?token=eyJ.abc.def" [accepted]') == (
        '127.0.0.1:5 - "WebSocket /ws/v1/?token=[redacted]" [accepted]'
    )
    assert redact("/media/k/original?expires=99&signature=f00d&x=1") == (
        "/media/k/original?expires=99&signature=[redacted]&x=1"
    )
    assert redact("/api/v1/contacts?q=token&cursor=abc") == "/api/v1/contacts?q=token&cursor=abc"


def test_the_filter_rewrites_the_arguments_uvicorn_logs_with():
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:5", "/ws/v1/?token=secret-value"), None)
    RedactSecretsFilter().filter(record)
    assert "secret-value" not in record.getMessage()


@pytest.fixture
def logged_server(django_db_setup, companies, tmp_path):
    """A server of this test's own with uvicorn's access log on, and its log file."""
    log_path = tmp_path / "uvicorn.log"
    server = live.start_server(log_path, access_log=True)
    yield server, log_path
    live.stop(server.process)


def test_the_live_server_never_logs_a_websocket_token(logged_server, live_db, alpha):
    server, log_path = logged_server
    agent = make_user(alpha)
    host = alpha.get_primary_domain().domain
    with server.client(host) as http:
        login = http.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
        token = login.json()["access"]
        # A token in a plain request's query string is refused, and not written down either.
        assert http.get(f"/api/v1/auth/me?token={token}").status_code == 401

    async def open_socket_with_token_in_query():
        async with websockets.connect(server.ws_url(f"{alpha.slug}.localhost", f"/ws/v1/?token={token}"),
                                      host="127.0.0.1", port=server.port, open_timeout=5) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(open_socket_with_token_in_query())["type"] == "ready"

    live.stop(server.process)  # flushes the log
    log = log_path.read_text()
    assert '"WebSocket /ws/v1/?token=[redacted]" [accepted]' in log
    assert "/api/v1/auth/me?token=[redacted]" in log
    assert token not in log
    assert token.split(".")[2] not in log  # not even the signature part
