"""`import.progress` frames from a real Huey worker to real websocket clients (SPEC §13): the author
and admins follow the import to its end; an agent of the company and another company hear nothing."""

import asyncio
import json
import threading

import pytest
import websockets

from tests.fixtures.factories import make_user

pytestmark = pytest.mark.live

ROWS = 3000


def listen(tenant, token: str, frames: list, ready: threading.Event, stop: threading.Event):
    async def run():
        url = tenant.server.ws_url(tenant.host, f"/ws/v1/?token={token}")
        async with websockets.connect(url, host="127.0.0.1", port=tenant.server.port) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            ready.set()
            while not stop.is_set():
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except TimeoutError:
                    continue
                frames.append(frame)

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()


def test_the_author_and_admins_see_progress_to_the_end_and_nobody_else(tenant, worker, make_live_company):
    from tests.fixtures.live_tenant import Tenant

    company = tenant.company
    supervisor = make_user(company, role="supervisor")
    agent = make_user(company, role="agent")
    other = Tenant(tenant.server, make_live_company())
    sockets = {
        "author": tenant.login(supervisor.email), "admin": tenant.admin_token,
        "agent": tenant.login(agent.email), "other company": other.admin_token,
    }
    frames = {name: [] for name in sockets}
    stop = threading.Event()
    for name, token in sockets.items():
        ready = threading.Event()
        listen(other if name == "other company" else tenant, token, frames[name], ready, stop)
        assert ready.wait(5)

    body = "phone,name\n" + "".join(f"+55119750{n:05d},Lead {n}\n" for n in range(ROWS))
    started = tenant.api("post", "/contacts/imports", token=sockets["author"],
                         files={"file": ("leads.csv", body.encode(), "text/csv")})
    assert started.status_code == 202, started.text
    import_id = started.json()["id"]

    def finished(name):
        progress = [f["data"] for f in frames[name] if f["type"] == "import.progress"]
        return any(data["status"] == "completed" for data in progress)

    from tests.fixtures.live_tenant import wait_until

    wait_until(lambda: finished("author") and finished("admin"), timeout=30)
    stop.set()
    last = [f["data"] for f in frames["author"] if f["type"] == "import.progress"][-1]
    assert last == {"id": import_id, "status": "completed", "total": ROWS, "processed": ROWS,
                    "imported": ROWS, "updated": 0, "skipped": 0}
    assert [f for f in frames["agent"] if f["type"] == "import.progress"] == []
    assert [f for f in frames["other company"] if f["type"] == "import.progress"] == []
    other.http.close()
