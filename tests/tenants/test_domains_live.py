"""Custom domains against a real ASGI server process: its websockets are refused on a domain until
it is verified, and a verification or removal in this process reaches the server at once."""

import asyncio
import json

import pytest
import websockets

from tenants import dns
from tenants.domains import domain_add, domain_remove, domain_verify, txt_record_for
from tests.fixtures.factories import PASSWORD, make_user

pytestmark = [pytest.mark.live]


def ws_connect(asgi_server, host: str, token: str):
    return websockets.connect(asgi_server.ws_url(host, f"/ws/v1/?token={token}"), host="127.0.0.1",
                              port=asgi_server.port, open_timeout=5)


def login(asgi_server, host: str, email: str):
    with asgi_server.client(host) as client:
        return client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})


def test_the_socket_and_pages_of_a_custom_domain_follow_its_verification(
    asgi_server, live_db, make_live_company, monkeypatch,
):
    company = make_live_company(plan="enterprise")
    agent = make_user(company)
    custom = f"support.{company.slug}.test"
    domain = domain_add(company=company, domain=custom)
    token = login(asgi_server, company.get_primary_domain().domain, agent.email).json()["access"]

    async def socket_on_custom_domain():
        async with ws_connect(asgi_server, custom, token) as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 3))
            await ws.send(json.dumps({"type": "ping", "data": {"n": 1}}))
            pong = json.loads(await asyncio.wait_for(ws.recv(), 3))
            return ready["type"], pong["type"]

    # unverified: the server refuses the handshake and the pages
    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(socket_on_custom_domain())
    assert login(asgi_server, custom, agent.email).status_code == 404

    record = txt_record_for(domain)
    monkeypatch.setattr(dns, "txt_records", lambda name: [record["value"]] if name == record["name"] else [])
    domain = domain_verify(domain=domain)

    assert asyncio.run(socket_on_custom_domain()) == ("ready", "pong")
    with asgi_server.client(custom) as client:
        assert client.get("/app/login/").status_code == 200

    domain_remove(domain=domain)

    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(socket_on_custom_domain())
    with asgi_server.client(custom) as client:
        assert client.get("/app/login/").status_code in (400, 404)
