"""Deactivating a user on the live server: their sockets close within 2 s, their tokens stop."""

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.fixtures.factories import PASSWORD, make_user

pytestmark = [pytest.mark.live]

DEADLINE_SECONDS = 2.0


def test_deactivation_closes_every_socket_within_two_seconds_and_refuses_the_tokens(
    asgi_server, make_live_company,
):
    company = make_live_company()
    agent = make_user(company)
    host = f"{company.slug}.localhost"
    http = asgi_server.client(host)
    admin = http.post("/api/v1/auth/login", json={"email": f"admin@{company.slug}.example.com",
                                                  "password": PASSWORD}).json()["access"]
    devices = [http.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD}).json()
               for _ in range(2)]

    async def scenario():
        sockets = [await websockets.connect(asgi_server.ws_url(host, f"/ws/v1/?token={device['access']}"),
                                            host="127.0.0.1", port=asgi_server.port, open_timeout=5)
                   for device in devices]
        for ws in sockets:
            assert json.loads(await ws.recv())["type"] == "ready"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{asgi_server.port}",
                                     headers={"Host": f"{host}:{asgi_server.port}"}) as client:
            started = time.perf_counter()
            response = await client.delete(f"/api/v1/users/{agent.pk}",
                                         headers={"Authorization": f"Bearer {admin}"})
            assert response.status_code == 200, response.text

            async def closed(ws):
                try:
                    while True:
                        await ws.recv()
                except websockets.ConnectionClosed as exc:
                    return exc.rcvd.code if exc.rcvd else exc.code, time.perf_counter() - started

            return await asyncio.wait_for(asyncio.gather(*(closed(ws) for ws in sockets)), 5)

    results = asyncio.run(scenario())

    assert [code for code, _ in results] == [4401, 4401]
    assert max(seconds for _, seconds in results) < DEADLINE_SECONDS, results
    for device in devices:
        me = http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {device['access']}"})
        assert me.status_code == 401
        assert http.post("/api/v1/auth/refresh", json={"refresh": device["refresh"]}).status_code == 401
    http.close()
