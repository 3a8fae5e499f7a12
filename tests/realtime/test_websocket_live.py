"""The realtime socket against a real ASGI server and websocket client (acceptance 2)."""

import asyncio
import json

import pytest
import websockets
from django.db import connections

from apps.accounts.services import user_set_status
from tenants.services import company_activate, company_suspend
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = [pytest.mark.live]


async def in_thread(fn, *args, **kwargs):
    """Run ORM code off the event loop, closing the thread's connection afterwards."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(call)


def login(asgi_server, company, email) -> str:
    with asgi_server.client(company.get_primary_domain().domain) as client:
        response = client.post("/api/v1/auth/login",
                               json={"email": email, "password": "correct-horse-battery"})
        assert response.status_code == 200, response.text
        return response.json()["access"]


def connect(asgi_server, company, token: str | None = None):
    host = f"{company.slug}.localhost"  # no query: this runs inside the event loop
    query = f"?token={token}" if token else ""
    return websockets.connect(asgi_server.ws_url(host, f"/ws/v1/{query}"), host="127.0.0.1",
                              port=asgi_server.port, open_timeout=5)


async def next_frame(ws, timeout: float = 3) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def frames_until_quiet(ws, quiet: float = 0.5) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
    except TimeoutError:
        return frames


async def close_code(ws, timeout: float = 3) -> int:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else closed.code


@pytest.fixture
def agents(live_db, alpha, bravo):
    return make_user(alpha), make_user(bravo)


def test_each_company_receives_only_its_own_events(asgi_server, alpha, bravo, agents):
    agent_a, agent_b = agents
    token_a, token_b = login(asgi_server, alpha, agent_a.email), login(asgi_server, bravo, agent_b.email)

    async def scenario():
        async with connect(asgi_server, alpha, token_a) as ws_a, connect(asgi_server, bravo, token_b) as ws_b:
            assert (await next_frame(ws_a))["type"] == "ready"
            assert (await next_frame(ws_b))["type"] == "ready"

            await in_thread(_set_status, alpha, agent_a.pk, "available")
            frame = await next_frame(ws_a)
            assert frame == {"type": "agent_status.updated", "data": frame["data"]}
            assert frame["data"]["user_id"] == agent_a.pk and frame["data"]["status"] == "available"
            assert await frames_until_quiet(ws_b) == []

            await in_thread(_set_status, bravo, agent_b.pk, "busy")
            assert (await next_frame(ws_b))["data"]["status"] == "busy"
            assert await frames_until_quiet(ws_a) == []

    asyncio.run(scenario())


def _set_status(company, user_id, status):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User

    with schema_context(company.schema_name):
        user_set_status(user=User.objects.get(pk=user_id), status=status)


def test_a_token_of_another_company_is_closed_with_4401(asgi_server, alpha, bravo, agents):
    token_a = login(asgi_server, alpha, agents[0].email)

    async def scenario():
        async with connect(asgi_server, bravo, token_a) as ws:
            return await close_code(ws)

    assert asyncio.run(scenario()) == 4401


def test_a_socket_authenticates_with_its_first_message_or_is_closed(asgi_server, alpha, agents):
    token_a = login(asgi_server, alpha, agents[0].email)

    async def scenario():
        async with connect(asgi_server, alpha) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token_a}))
            assert (await next_frame(ws))["type"] == "ready"
            await ws.send(json.dumps({"type": "ping", "data": {"n": 7}}))
            assert await next_frame(ws) == {"type": "pong", "data": {"n": 7}}
            await ws.send(json.dumps({"type": "subscribe", "topic": "nothing", "id": 1}))
            assert (await next_frame(ws))["data"]["code"] == "not_found"
        async with connect(asgi_server, alpha) as silent:
            # the live server closes unauthenticated sockets after 1 s (10 s by default)
            return await close_code(silent, timeout=5)

    assert asyncio.run(scenario()) == 4401


def test_a_suspended_company_socket_is_closed_with_4402(asgi_server, live_db, make_live_company):
    company = make_live_company()
    agent = make_user(company)
    token = login(asgi_server, company, agent.email)

    async def scenario():
        async with connect(asgi_server, company, token) as ws:
            assert (await next_frame(ws))["type"] == "ready"
            await in_thread(company_suspend, company=company, reason="unpaid")
            live_code = await close_code(ws)
        async with connect(asgi_server, company, token) as ws:
            new_code = await close_code(ws)
        await in_thread(company_activate, company=company)
        async with connect(asgi_server, company, token) as ws:
            assert (await next_frame(ws))["type"] == "ready"
        return live_code, new_code

    assert asyncio.run(scenario()) == (4402, 4402)


def test_an_unknown_host_cannot_open_a_socket(asgi_server):
    async def scenario():
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(asgi_server.ws_url("ghost.localhost"), host="127.0.0.1",
                                          port=asgi_server.port, open_timeout=5):
                pass
        return refused.value.response.status_code

    assert asyncio.run(scenario()) == 403


def test_typing_reaches_the_conversations_other_subscribers_but_not_the_typist(
    asgi_server, live_db, make_live_company,
):
    company = make_live_company()
    ana, bruno, carla = (make_user(company, name=name) for name in ("Ana", "Bruno", "Carla"))
    conversation_id = receive(company, make_inbox(company)).conversation_id
    tokens = [login(asgi_server, company, user.email) for user in (ana, bruno, carla)]

    async def scenario():
        async with connect(asgi_server, company, tokens[0]) as ws_ana, \
                connect(asgi_server, company, tokens[1]) as ws_bruno, \
                connect(asgi_server, company, tokens[2]) as ws_carla:
            for ws in (ws_ana, ws_bruno, ws_carla):
                assert (await next_frame(ws))["type"] == "ready"
            subscribe = {"type": "subscribe", "topic": "conversation", "id": conversation_id}
            for ws in (ws_ana, ws_bruno):
                await ws.send(json.dumps(subscribe))
            for ws in (ws_ana, ws_bruno, ws_carla):
                await frames_until_quiet(ws)  # ready, subscribed and the others' presence

            await ws_ana.send(json.dumps({"type": "typing", "conversation_id": conversation_id}))
            return [await frames_until_quiet(ws) for ws in (ws_ana, ws_bruno, ws_carla)]

    to_ana, to_bruno, to_carla = asyncio.run(scenario())
    assert to_bruno == [{"type": "typing.started",
                         "data": {"conversation_id": conversation_id, "user_id": ana.pk, "name": "Ana"}}]
    assert to_ana == [] and to_carla == []


def test_a_conversations_viewers_see_each_other_and_nobody_else_hears_of_it(
    asgi_server, live_db, make_live_company,
):
    company = make_live_company()
    ana, bruno, carla = (make_user(company, name=name) for name in ("Ana", "Bruno", "Carla"))
    conversation_id = receive(company, make_inbox(company)).conversation_id
    tokens = [login(asgi_server, company, user.email) for user in (ana, bruno, carla)]
    subscribe = {"type": "subscribe", "topic": "conversation", "id": conversation_id}

    def viewer_frames(frames):
        return [f["data"]["viewers"] for f in frames
                if f["type"] == "presence.updated" and "viewers" in f["data"]]

    async def scenario():
        async with connect(asgi_server, company, tokens[0]) as ws_ana, \
                connect(asgi_server, company, tokens[1]) as ws_bruno, \
                connect(asgi_server, company, tokens[2]) as ws_carla:
            for ws in (ws_ana, ws_bruno, ws_carla):
                assert (await next_frame(ws))["type"] == "ready"
            await ws_bruno.send(json.dumps(subscribe))
            await frames_until_quiet(ws_bruno)
            await ws_ana.send(json.dumps(subscribe))
            bruno_sees_ana = viewer_frames(await frames_until_quiet(ws_bruno))
            await ws_ana.send(json.dumps({**subscribe, "type": "unsubscribe"}))
            bruno_sees_ana_leave = viewer_frames(await frames_until_quiet(ws_bruno))
            carla_heard = viewer_frames(await frames_until_quiet(ws_carla))
            return bruno_sees_ana, bruno_sees_ana_leave, carla_heard

    joined, left, carla_heard = asyncio.run(scenario())
    both = sorted([{"user_id": ana.pk, "name": "Ana"}, {"user_id": bruno.pk, "name": "Bruno"}],
                  key=lambda viewer: viewer["user_id"])
    assert joined == [both]
    assert left == [[{"user_id": bruno.pk, "name": "Bruno"}]]
    assert carla_heard == []


def test_a_role_change_or_deactivation_closes_the_users_sockets(asgi_server, live_db, make_live_company):
    """A demoted supervisor's sockets stop hearing every conversation at once (they reconnect and
    join the agent's groups); a deactivated user's sockets are closed as unauthenticated."""
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.accounts.services import user_deactivate, user_update
    from apps.conversations.models import Conversation
    from apps.conversations.services import conversation_assign
    from tests.fixtures.messaging import new_phone

    company = make_live_company()
    supervisor, colleague = make_user(company, role="supervisor"), make_user(company)
    inbox, phone = make_inbox(company), new_phone()
    conversation_id = receive(company, inbox, phone=phone).conversation_id
    with schema_context(company.schema_name):
        admin = User.objects.get(role="admin")
        conversation_assign(conversation=Conversation.objects.get(pk=conversation_id), assignee=colleague,
                            actor=None)
    token = login(asgi_server, company, supervisor.email)

    def as_admin(action, **fields):
        with schema_context(company.schema_name):
            action(user=User.objects.get(pk=supervisor.pk), actor=admin, **fields)

    async def scenario():
        async with connect(asgi_server, company, token) as ws:
            assert (await next_frame(ws))["data"]["role"] == "supervisor"
            await in_thread(as_admin, user_update, role="agent")
            demoted = await close_code(ws)
        async with connect(asgi_server, company, token) as ws:
            assert (await next_frame(ws))["data"]["role"] == "agent"
            await in_thread(receive, company, inbox, phone=phone, text="Only for my agent")
            heard = await frames_until_quiet(ws, 1.0)
            await in_thread(as_admin, user_deactivate)
            deactivated = await close_code(ws)
        return demoted, heard, deactivated

    demoted, heard, deactivated = asyncio.run(scenario())
    assert demoted == 1012 and deactivated == 4401
    assert [frame for frame in heard if frame["type"] == "message.created"] == []


def test_a_user_who_must_still_set_up_two_factor_gets_no_socket(asgi_server, live_db, make_live_company):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.accounts.two_factor import company_set_require_two_factor

    company = make_live_company()
    agent = make_user(company)
    token = login(asgi_server, company, agent.email)  # before the requirement: a valid token
    with schema_context(company.schema_name):
        admin = User.objects.get(email=f"admin@{company.slug}.example.com")
        company_set_require_two_factor(actor=admin, enabled=True)

    async def scenario():
        async with connect(asgi_server, company, token) as ws:
            return await close_code(ws)

    assert asyncio.run(scenario()) == 4401


def test_a_contacts_frames_reach_only_the_sockets_showing_it(asgi_server, live_db, make_live_company, bravo):
    """A contact's changes go to the sockets following it or one of its conversations, not to the
    whole staff (each new customer cost a frame on every socket); another company hears nothing."""
    from django_tenants.utils import schema_context

    from apps.contacts.models import Contact
    from apps.contacts.services import contact_update
    from tests.fixtures.messaging import new_phone

    company = make_live_company()
    ana, bruno, carla = (make_user(company, name=name) for name in ("Ana", "Bruno", "Carla"))
    outsider = make_user(bravo)
    inbox = make_inbox(company)
    opened = receive(company, inbox, phone=new_phone()).conversation
    other = receive(company, inbox, phone=new_phone()).conversation
    opened_contact, other_contact = opened.contact_id, other.contact_id
    tokens = [login(asgi_server, company, user.email) for user in (ana, bruno, carla)]
    outsider_token = login(asgi_server, bravo, outsider.email)

    def rename(contact_id, name):
        with schema_context(company.schema_name):
            contact_update(contact=Contact.objects.get(pk=contact_id), name=name)

    def contact_frames(frames):
        return [(f["type"], f["data"]["id"], f["data"]["name"]) for f in frames
                if f["type"].startswith("contact.")]

    async def scenario():
        async with connect(asgi_server, company, tokens[0]) as ws_ana, \
                connect(asgi_server, company, tokens[1]) as ws_bruno, \
                connect(asgi_server, company, tokens[2]) as ws_carla, \
                connect(asgi_server, bravo, outsider_token) as ws_outsider:
            sockets = (ws_ana, ws_bruno, ws_carla, ws_outsider)
            for ws in sockets:
                assert (await next_frame(ws))["type"] == "ready"
            await ws_ana.send(json.dumps({"type": "subscribe", "topic": "conversation", "id": opened.pk}))
            await ws_bruno.send(json.dumps({"type": "subscribe", "topic": "contact", "id": other_contact}))
            # The same ids in the other company name its own rows, if any: never these.
            await ws_outsider.send(json.dumps({"type": "subscribe", "topic": "contact",
                                               "id": opened_contact}))
            await asyncio.gather(*(frames_until_quiet(ws) for ws in sockets))

            await in_thread(rename, opened_contact, "Opened Customer")
            await in_thread(rename, other_contact, "Other Customer")
            heard = [contact_frames(frames) for frames in
                     await asyncio.gather(*(frames_until_quiet(ws) for ws in sockets))]

            await ws_ana.send(json.dumps({"type": "unsubscribe", "topic": "conversation", "id": opened.pk}))
            await frames_until_quiet(ws_ana)
            await in_thread(rename, opened_contact, "Renamed Again")
            return heard, contact_frames(await frames_until_quiet(ws_ana))

    (to_ana, to_bruno, to_carla, to_outsider), after_closing = asyncio.run(scenario())
    assert to_ana == [("contact.updated", opened_contact, "Opened Customer")]
    assert to_bruno == [("contact.updated", other_contact, "Other Customer")]
    assert to_carla == [] and to_outsider == [] and after_closing == []
