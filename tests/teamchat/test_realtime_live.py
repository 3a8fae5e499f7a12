"""Team chat on real sockets against the live server: frames reach the room's members only."""

import asyncio
import json

import pytest
import websockets

from tests.fixtures.factories import make_user
from tests.fixtures.live_tenant import Tenant

pytestmark = [pytest.mark.live]


async def until_quiet(ws, quiet: float = 0.6) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
    except TimeoutError:
        return frames


async def first(ws, kind: str, timeout: float = 5) -> dict:
    async def wait():
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame
    return await asyncio.wait_for(wait(), timeout)


def kinds(frames: list[dict]) -> list[str]:
    return [frame["type"] for frame in frames if frame["type"] != "presence.updated"]


def test_room_frames_and_typing_reach_members_only_and_stop_when_one_is_removed(
    asgi_server, tenant, bravo,
):
    ana, bruno, olga = (make_user(tenant.company, name=name) for name in ("Ana", "Bruno", "Olga"))
    other = Tenant(asgi_server, bravo)  # committed for the session: another company's admin
    tokens = {user.name: tenant.login(user.email) for user in (ana, bruno, olga)}
    room = tenant.api("post", "/team-chat/rooms", token=tokens["Ana"],
                      json={"name": "Ops", "member_ids": [bruno.pk]}).json()

    def connect(host, token):
        return websockets.connect(asgi_server.ws_url(host, f"/ws/v1/?token={token}"), host="127.0.0.1",
                                  port=asgi_server.port, open_timeout=5)

    async def scenario():
        async with (connect(tenant.host, tokens["Ana"]) as ws_ana,
                    connect(tenant.host, tokens["Bruno"]) as ws_bruno,
                    connect(tenant.host, tokens["Olga"]) as ws_olga,
                    connect(other.host, other.admin_token) as ws_other):
            for ws in (ws_ana, ws_bruno, ws_olga, ws_other):
                assert (await first(ws, "ready"))["type"] == "ready"
            subscribe = {"type": "subscribe", "topic": "team_chat_room", "id": room["id"]}
            for ws in (ws_ana, ws_bruno, ws_olga):
                await ws.send(json.dumps(subscribe))
            await first(ws_ana, "subscribed")
            await first(ws_bruno, "subscribed")
            assert (await first(ws_olga, "error"))["data"]["code"] == "not_found"

            await ws_ana.send(json.dumps({"type": "typing", "room_id": room["id"]}))
            typing = await first(ws_bruno, "typing.started")
            assert typing["data"] == {"room_id": room["id"], "user_id": ana.pk, "name": "Ana"}
            await asyncio.to_thread(tenant.api, "post", f"/team-chat/rooms/{room['id']}/messages",
                                    token=tokens["Ana"], json={"text": "hello Bruno"})
            created = await first(ws_bruno, "team_chat.message.created")
            assert created["data"]["text"] == "hello Bruno" and created["data"]["author"]["id"] == ana.pk

            await asyncio.to_thread(tenant.api, "delete", f"/team-chat/rooms/{room['id']}/members/{bruno.pk}",
                                    token=tokens["Ana"])
            on_removal = await until_quiet(ws_bruno)
            gone = {"id": room["id"], "removed": True}
            assert {"type": "team_chat.room.updated", "data": gone} in on_removal
            left = {"topic": "team_chat_room", "id": str(room["id"])}
            assert {"type": "unsubscribed", "data": left} in on_removal
            await ws_ana.send(json.dumps({"type": "typing", "room_id": room["id"]}))
            await asyncio.to_thread(tenant.api, "post", f"/team-chat/rooms/{room['id']}/messages",
                                    token=tokens["Ana"], json={"text": "Bruno is gone"})
            await first(ws_ana, "team_chat.message.created")
            return await until_quiet(ws_bruno), await until_quiet(ws_olga), await until_quiet(ws_other)

    after_removal, olga_frames, other_frames = asyncio.run(scenario())

    assert kinds(after_removal) == []
    assert not [f for f in olga_frames if f["type"].startswith(("team_chat", "typing"))]
    assert not [f for f in other_frames if f["type"].startswith(("team_chat", "typing"))]
    other.http.close()
