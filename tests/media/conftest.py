"""Media fixtures: a real clamd for the whole session (see tests/fixtures/clamd.py)."""

import os

import pytest

from tests.fixtures.clamd import SOCKET_ENV, ClamdServer, free_port, start_clamd


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory) -> ClamdServer:
    """clamd on a Unix socket (and a TCP port on 127.0.0.1), stopped with SIGTERM after the session.

    Its socket is exported as CONVERSA_TEST_CLAMD_SOCKET for processes started later (live server and
    worker), whose settings_test read it.
    """
    server = start_clamd(tmp_path_factory.mktemp("clamd"), tcp_port=free_port())
    previous = os.environ.get(SOCKET_ENV)
    os.environ[SOCKET_ENV] = str(server.socket_path)
    yield server
    server.stop()
    if previous is None:
        os.environ.pop(SOCKET_ENV, None)
    else:
        os.environ[SOCKET_ENV] = previous


@pytest.fixture
def clamd_settings(clamd_server, settings) -> ClamdServer:
    """Point this process's settings at the session clamd (started again if a test left it stopped)."""
    clamd_server.start()
    settings.CLAMD_SOCKET = str(clamd_server.socket_path)
    return clamd_server
