"""Campaigns through the real server, a real Huey worker and the fake Meta API: every recipient
exactly once across SIGKILLs, the rate never exceeded, pause felt at the provider within a second,
resume, cancel, and progress frames to managers only."""

import asyncio
import json
import signal
import threading
import time
import uuid

import pytest
import websockets
from django_tenants.utils import schema_context

from apps.campaigns.models import Campaign, CampaignRecipient
from apps.contacts.models import Contact
from tests.fakes import webhooks
from tests.fixtures import live
from tests.fixtures.contacts import unique_phone
from tests.fixtures.factories import make_user
from tests.fixtures.live_tenant import PHONE_NUMBER_ID, Tenant, wait_until

pytestmark = [pytest.mark.live]


def audience(company, n: int) -> str:
    tag = f"live{uuid.uuid4().hex[:8]}"
    with schema_context(company.schema_name):
        Contact.objects.bulk_create([Contact(phone=unique_phone(), name=f"Client {i}", tags=[tag])
                                     for i in range(n)])
    return tag


def create_campaign(tenant, inbox_id: int, tag: str, **extra) -> dict:
    created = tenant.api("post", "/campaigns", json={
        "name": "Live", "inbox_id": inbox_id, "audience": {"tags": [tag]},
        "message": {"text": "Hi {{contact.first_name}}"}, **extra,
    })
    assert created.status_code == 201, created.text
    return created.json()


def sends_to(fake, tag_phones: set[str]) -> list[str]:
    return [r.json["to"] for r in fake.accepted if r.json and r.json.get("to") in tag_phones]


class StatusEcho(threading.Thread):
    """Plays Meta: a `sent` status webhook, carrying our send key, for every message it accepted."""

    def __init__(self, tenant, inbox_id: int, fake):
        super().__init__(daemon=True)
        self.tenant, self.inbox_id, self.fake = tenant, inbox_id, fake
        self.done, self.stop = 0, threading.Event()

    def run(self):
        while not self.stop.wait(0.2):
            accepted = self.fake.accepted
            fresh, self.done = accepted[self.done:], len(accepted)
            statuses = [{"id": f"wamid.echo.{uuid.uuid4().hex}", "status": "sent",
                         "timestamp": str(int(time.time())), "recipient_id": r.json["to"],
                         "biz_opaque_callback_data": r.json.get("biz_opaque_callback_data", "")}
                        for r in fresh if r.json]
            if statuses:
                body = webhooks.meta_envelope(PHONE_NUMBER_ID, {"statuses": statuses})
                self.tenant.post_meta(self.inbox_id, body)


def campaign_state(tenant, campaign_id: int) -> dict:
    return tenant.api("get", f"/campaigns/{campaign_id}").json()


@pytest.mark.proof
def test_three_sigkills_each_recipient_exactly_once_never_above_the_rate(
    tenant, fake, queue_to_redis, tmp_path,
):
    fake.reset()
    inbox = tenant.meta_inbox(fake, rate=80)
    total = 300
    tag = audience(tenant.company, total)
    with schema_context(tenant.company.schema_name):
        phones = {phone.lstrip("+") for phone in
                  Contact.objects.filter(tags__contains=[tag]).values_list("phone", flat=True)}
    campaign = create_campaign(tenant, inbox["id"], tag)
    echo = StatusEcho(tenant, inbox["id"], fake)
    echo.start()
    env = {"CAMPAIGN_UNSETTLED_GRACE_SECONDS": "3"}
    worker = live.start_worker(tmp_path / "worker-0.log", workers=4, **env)
    try:
        assert tenant.api("post", f"/campaigns/{campaign['id']}/start").status_code == 200
        for kill in range(3):
            seen = len(sends_to(fake, phones))
            wait_until(lambda seen=seen: len(sends_to(fake, phones)) >= seen + 30, timeout=30)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = live.start_worker(tmp_path / f"worker-{kill + 1}.log", workers=4, **env)
        done = wait_until(lambda: (state := campaign_state(tenant, campaign["id"]))["status"] == "completed"
                          and state, timeout=60, step=0.3)
    finally:
        echo.stop.set()
        live.stop(worker)

    sent = sends_to(fake, phones)
    assert len(sent) == total and set(sent) == phones  # each exactly once: none twice, none missing
    assert fake.max_in_window(1.0, where=lambda r: r.json and r.json.get("to") in phones) <= 80
    assert done["stats"]["sent"] == total and done["stats"]["queued"] == 0 and done["stats"]["failed"] == 0
    with schema_context(tenant.company.schema_name):
        keys = set(CampaignRecipient.objects.filter(campaign_id=campaign["id"]).values_list("send_key",
                                                                                            flat=True))
    assert {r.json["biz_opaque_callback_data"] for r in fake.accepted if r.json.get("to") in phones} == \
        {str(key) for key in keys}


async def _frames(tenant, tokens: dict, action, seconds: float) -> dict:
    """`campaign.progress` frames each socket got; `tokens`: name → (tenant, token)."""
    async def listen(where, token):
        url = where.server.ws_url(where.host, f"/ws/v1/?token={token}")
        async with websockets.connect(url, host="127.0.0.1", port=where.server.port) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            got, deadline = [], time.monotonic() + seconds
            ready.set()
            while (left := deadline - time.monotonic()) > 0:
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), left))
                except TimeoutError:
                    break
                if frame["type"] == "campaign.progress":
                    got.append((time.monotonic(), frame["data"]))
            return got

    ready = asyncio.Event()
    tasks = {name: asyncio.create_task(listen(*pair)) for name, pair in tokens.items()}
    await ready.wait()
    await asyncio.sleep(0.5)
    await asyncio.to_thread(action)
    return {name: await task for name, task in tasks.items()}


@pytest.mark.proof
def test_pause_is_felt_within_a_second_resume_continues_cancel_stops_and_managers_watch(
    tenant, fake, worker, make_live_company, asgi_server,
):
    fake.reset()
    inbox = tenant.meta_inbox(fake, rate=40)
    tag = audience(tenant.company, 400)
    campaign = create_campaign(tenant, inbox["id"], tag)
    url = f"/campaigns/{campaign['id']}"
    agent = make_user(tenant.company, role="agent")
    other = Tenant(asgi_server, make_live_company())  # another company's admin, watching too
    tokens = {"admin": (tenant, tenant.admin_token), "agent": (tenant, tenant.login(agent.email)),
              "other company": (other, other.admin_token)}

    frames = asyncio.run(_frames(tenant, tokens, lambda: tenant.api("post", f"{url}/start"), seconds=6.0))

    assert frames["agent"] == [] and frames["other company"] == []
    assert frames["admin"][0][1]["id"] == campaign["id"] and frames["admin"][0][1]["status"] == "running"
    # from the first send on (the worker may still be starting before), at least one a second
    progress = [(at, data) for at, data in frames["admin"] if data["sent"] > 0]
    assert len(progress) >= 3
    assert set(progress[-1][1]) == {"id", "status", "total", "queued", "sent", "delivered", "read", "failed",
                                    "skipped"}
    assert max(b[0] - a[0] for a, b in zip(progress, progress[1:], strict=False)) <= 1.2
    assert progress[-1][1]["sent"] > progress[0][1]["sent"]

    asked = time.time()
    paused = tenant.api("post", f"{url}/pause")
    assert paused.json()["status"] == "paused" and paused.json()["pause_reason"] == "manual"
    time.sleep(1.5)
    at_pause = len(fake.accepted)
    assert max(r.time for r in fake.accepted) - asked < 1.0
    time.sleep(0.5)
    assert len(fake.accepted) == at_pause

    assert tenant.api("post", f"{url}/resume").json()["status"] == "running"
    wait_until(lambda: len(fake.accepted) >= at_pause + 20, timeout=10)
    assert tenant.api("post", f"{url}/cancel").json()["status"] == "cancelled"
    time.sleep(1.2)
    at_cancel = len(fake.accepted)
    time.sleep(1.0)
    assert len(fake.accepted) == at_cancel < 400
    state = campaign_state(tenant, campaign["id"])
    assert state["status"] == "cancelled" and state["stats"]["sent"] == at_cancel
    assert fake.max_in_window(1.0) <= 40
    with schema_context(tenant.company.schema_name):
        assert Campaign.objects.get(pk=campaign["id"]).cancelled_at is not None
