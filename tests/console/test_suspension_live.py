"""Acceptance 2, the sockets: suspending in the console closes the company's sockets with 4402 (and
refuses new ones) while another company's socket stays open; activating lets them connect again."""

import asyncio
import uuid

import pytest
import websockets
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tests.console.conftest import Console
from tests.fixtures.factories import PASSWORD, make_user
from tests.realtime.test_websocket_live import close_code, connect, in_thread, login, next_frame

pytestmark = [pytest.mark.live]


def test_suspending_in_the_console_closes_only_that_companys_sockets(asgi_server, live_db, make_live_company):
    acme, other = make_live_company(), make_live_company()
    acme_token = login(asgi_server, acme, make_user(acme).email)
    other_token = login(asgi_server, other, make_user(other).email)
    with schema_context("public"):
        operator = User.objects.create_superuser(f"operator-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    console = Console()
    assert console.login(operator.email).status_code == 302

    def act(action: str, reason: str) -> int:
        return console.post(f"/console/companies/{acme.pk}/{action}/", {"reason": reason}).status_code

    async def scenario():
        async with (
            connect(asgi_server, acme, acme_token) as ws,
            connect(asgi_server, other, other_token) as ws_other,
        ):
            assert (await next_frame(ws))["type"] == "ready"
            assert (await next_frame(ws_other))["type"] == "ready"
            assert await in_thread(act, "suspend", "unpaid") == 302
            live_code = await close_code(ws)
            try:
                await asyncio.wait_for(ws_other.recv(), 1)
            except TimeoutError:
                other_open = True
            except websockets.ConnectionClosed:
                other_open = False
            else:
                other_open = True
        async with connect(asgi_server, acme, acme_token) as ws:
            new_code = await close_code(ws)
        assert await in_thread(act, "activate", "paid") == 302
        async with connect(asgi_server, acme, acme_token) as ws:
            restored = (await next_frame(ws))["type"]
        return live_code, new_code, other_open, restored

    assert asyncio.run(scenario()) == (4402, 4402, True, "ready")
