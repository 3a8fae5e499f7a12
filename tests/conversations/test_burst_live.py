"""A burst of webhooks through the real server and worker: stored in the order it arrived, each
message once in its customer's conversation, each pushed once to an agent's socket."""

import asyncio
import json
import time

import pytest
import websockets
from django_tenants.utils import schema_context

from apps.conversations.models import Conversation, Message
from tests.fakes import webhooks
from tests.fixtures.live_tenant import PHONE_NUMBER_ID

pytestmark = [pytest.mark.live]

CUSTOMERS = ("5511987650701", "5511987650702", "5511987650703")
BURST = 90


def test_a_burst_is_stored_in_arrival_order_and_pushed_once(tenant, fake, worker):
    inbox = tenant.meta_inbox(fake)
    bodies = [
        webhooks.meta_text_message(PHONE_NUMBER_ID, CUSTOMERS[i % 3], f"burst {i}", msg_id=f"wamid.burst.{i}")
        for i in range(BURST)
    ]

    def deliver() -> list[int]:
        # One after the other, as fast as the server answers: the drain takes them in batches.
        return [tenant.post_meta(inbox["id"], body).status_code for body in bodies]

    async def run() -> tuple[list[int], list[str]]:
        url = tenant.server.ws_url(tenant.host, f"/ws/v1/?token={tenant.admin_token}")
        async with websockets.connect(url, host="127.0.0.1", port=tenant.server.port) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            statuses = await asyncio.to_thread(deliver)
            pushed, deadline = [], time.monotonic() + 20
            while len(pushed) < BURST and time.monotonic() < deadline:
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
                except TimeoutError:
                    break
                if frame["type"] == "message.created":
                    pushed.append(frame["data"]["text"])
            try:  # nothing more: no frame twice
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    if frame["type"] == "message.created":
                        pushed.append(frame["data"]["text"])
            except TimeoutError:
                pass
            return statuses, pushed

    statuses, pushed = asyncio.run(run())

    assert statuses == [200] * BURST
    assert sorted(pushed) == sorted(f"burst {i}" for i in range(BURST))
    with schema_context(tenant.company.schema_name):
        for first, phone in enumerate(CUSTOMERS):
            [conversation] = Conversation.objects.filter(contact__phone=f"+{phone}")
            texts = list(
                Message.objects.filter(conversation=conversation)
                .order_by("pk")
                .values_list("text", flat=True)
            )
            assert texts == [f"burst {i}" for i in range(first, BURST, 3)]
            assert conversation.unread_count == BURST // 3
