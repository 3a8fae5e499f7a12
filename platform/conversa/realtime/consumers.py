"""The `/ws/v1/` consumer: token auth, ping/pong, subscriptions and event frames."""

import asyncio
import functools
import json
import logging
from collections import Counter, OrderedDict
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django_tenants.utils import schema_context

from conversa import metrics
from conversa.realtime import presence, topics, viewers
from conversa.realtime.audiences import audiences_of
from conversa.realtime.close_codes import CLOSE_RESYNC, CLOSE_SUSPENDED, CLOSE_UNAUTHENTICATED
from conversa.realtime.fanout import event_message
from conversa.realtime.groups import company_group, group_name

logger = logging.getLogger("conversa.realtime")
# Frame ids a socket remembers to skip the copies that reach it through a second group: the copies
# of one frame arrive within moments of each other.
RECENT_FRAME_IDS = 256


@database_sync_to_async
def authenticate(schema_name: str, company_id: int, token: str):
    """Return (user, company_blocked) for an access token, inside the socket's schema."""
    from apps.accounts import two_factor
    from apps.accounts.authentication import user_for_access_token
    from tenants.models import Company

    with schema_context(schema_name):
        company = Company.objects.get(pk=company_id)
        user = user_for_access_token(token)
        if user is not None and two_factor.setup_pending(user, company):
            # The company requires a second factor this user has not set up: like every API call
            # but the set-up, the socket refuses them (their login token gets them nothing else).
            user = None
        if user is not None:
            user.audiences = audiences_of(user)
        return user, company.is_blocked


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._recent_frame_ids: OrderedDict[str, None] = OrderedDict()

    async def __call__(self, scope, receive, send):
        """Channels' loop (`await_many_dispatch`), with one long-lived task per source.

        Upstream creates a task and runs an `asyncio.wait` over both sources for every message, on
        every socket: with 500 sockets, about a third of the server's CPU for each frame of the
        fan-out. Here the client's messages and the channel layer's each have a task that runs for
        the socket's life; a lock keeps dispatch one message at a time, as upstream (no event frame
        overtakes `ready` while the sign-in is still joining groups).
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            receiver = getattr(self.channel_layer, "receiver", None)  # RealtimeChannelLayer's
            sources.append(receiver(self.channel_name) if receiver else
                           functools.partial(self.channel_layer.receive, self.channel_name))
        turn = asyncio.Lock()

        async def relay(source):
            while True:
                message = await source()
                async with turn:
                    await self.dispatch(message)

        tasks = [asyncio.ensure_future(relay(source)) for source in sources]
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # StopConsumer ends the socket; any other error propagates
        except StopConsumer:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def connect(self):
        self.schema_name = self.scope["schema_name"]
        self.company = self.scope["company"]
        self.user = None
        self.groups_joined: set[str] = set()
        # topic group the client subscribed to → the companion groups it brought along
        self.subscriptions: dict[str, list[str]] = {}
        # topic group → subscriptions holding it (a contact's group: itself and two of its conversations)
        self.followed: Counter[str] = Counter()
        self.viewing: dict[str, int] = {}  # conversation group → conversation id
        self.auth_timer = None
        # Accept before closing: a refused handshake cannot carry our 44xx close codes.
        await self.accept()
        self.counted = True
        metrics.gauge_add(metrics.WEBSOCKETS_OPEN, 1)
        if self.company.is_blocked:
            await self.close(code=CLOSE_SUSPENDED)
            return
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [None])[0]
        if token:
            await self.sign_in(token)
        else:
            self.auth_timer = asyncio.get_running_loop().call_later(
                settings.REALTIME_AUTH_TIMEOUT_SECONDS,
                lambda: asyncio.ensure_future(self.close_unauthenticated()),
            )

    async def close_unauthenticated(self):
        if self.user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def sign_in(self, token: str):
        user, blocked = await authenticate(self.schema_name, self.company.pk, token)
        if blocked:
            await self.close(code=CLOSE_SUSPENDED)
            return
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if self.auth_timer:
            self.auth_timer.cancel()
        self.user = user
        groups = [company_group(self.schema_name)] + [
            group_name(self.schema_name, suffix) for suffix in user.audiences
        ]
        # Announced before joining: a socket does not need to hear that its own user came online.
        await sync_to_async(presence.connected, thread_sensitive=False)(self.schema_name, user.pk)
        for group in groups:
            await self.join(group)
        await self.send_json({"type": "ready", "data": {"user_id": user.pk, "role": user.role}})

    async def join(self, group: str):
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def leave(self, group: str):
        await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.discard(group)

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            self.counted = False
            metrics.gauge_add(metrics.WEBSOCKETS_OPEN, -1)
        if self.auth_timer:
            self.auth_timer.cancel()
        if self.user is not None:
            await sync_to_async(presence.disconnected, thread_sensitive=False)(self.schema_name, self.user.pk)
        for group in list(self.viewing):
            await self.stop_viewing(group)
        for group in list(self.groups_joined):
            await self.leave(group)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong", "data": content.get("data") or {}})
        elif kind == "auth":
            if self.user is None:
                await self.sign_in(str(content.get("token") or ""))
        elif self.user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        elif kind in ("subscribe", "unsubscribe"):
            await self.change_subscription(kind, content)
        elif kind == "typing":
            await self.typing(content)
        else:
            await self.send_error("unknown_type", f"Unknown frame type {kind!r}.")

    async def change_subscription(self, kind: str, content: dict):
        topic, ref = content.get("topic"), content.get("id")
        if kind == "unsubscribe":
            group = topics.group_for(self.schema_name, topic, ref)
            if group in self.subscriptions:
                await self.drop_subscription(group)
            await self.send_json({"type": "unsubscribed", "data": {"topic": topic, "id": ref}})
            return
        groups = await database_sync_to_async(topics.follow)(
            self.schema_name, self.user.pk, topic, ref,
        )
        if groups is None:
            await self.send_error("not_found", "No such topic, or you may not see it.")
            return
        group = groups[0]
        if group not in self.subscriptions:
            self.subscriptions[group] = groups[1:]
            for each in groups:
                self.followed[each] += 1
                if self.followed[each] == 1:
                    await self.join(each)
        await self.send_json({"type": "subscribed", "data": {"topic": topic, "id": ref}})
        if topic == "conversation" and str(ref).isdigit() and group not in self.viewing:
            self.viewing[group] = int(ref)
            await sync_to_async(viewers.opened, thread_sensitive=False)(
                self.schema_name, group, int(ref), self.user.pk, self.user.name or self.user.email,
            )

    async def drop_subscription(self, group: str):
        """Stop following a topic and, unless another subscription holds them, its companions."""
        companions = self.subscriptions.pop(group)
        await self.stop_viewing(group)
        for each in [group, *companions]:
            self.followed[each] -= 1
            if self.followed[each] <= 0:
                del self.followed[each]
                await self.leave(each)

    async def stop_viewing(self, group: str):
        conversation_id = self.viewing.pop(group, None)
        if conversation_id is not None:
            await sync_to_async(viewers.closed, thread_sensitive=False)(
                self.schema_name, group, conversation_id, self.user.pk,
            )

    async def typing(self, content: dict):
        """Relay a user's typing to the others following that conversation or team-chat room
        (subscribers only: the topic's authoriser let them in)."""
        if content.get("room_id") is not None:
            topic, key = "team_chat_room", "room_id"
        else:
            topic, key = "conversation", "conversation_id"
        group = topics.group_for(self.schema_name, topic, content.get(key))
        if group is None or group not in self.subscriptions:
            await self.send_error("not_subscribed", "Subscribe to the conversation or room first.")
            return
        event = "typing.stopped" if content.get("state") == "stopped" else "typing.started"
        data = {key: int(content[key]), "user_id": self.user.pk, "name": self.user.name}
        await self.channel_layer.group_send(group, event_message(event, data, exclude=self.channel_name))

    async def send_error(self, code: str, message: str):
        await self.send_json({"type": "error", "data": {"code": code, "message": message}})

    # Channel-layer handlers -------------------------------------------------------------------

    async def dispatch(self, message):
        # Frames from the channel layer touch no database, so they skip Channels' per-message
        # close_old_connections: a hop to the shared sync thread for every socket and every frame,
        # most of the fan-out's CPU. Each database call here closes its own connections
        # (database_sync_to_async).
        if message["type"] == "realtime.event":
            await self.realtime_event(message)
        elif message["type"] == "realtime.events":
            ids = message.get("ids") or [""] * len(message["texts"])
            for frame_id, text in zip(ids, message["texts"], strict=True):
                if not self._already_sent(frame_id):
                    await self.base_send({"type": "websocket.send", "text": text})
        elif message["type"] == "realtime.resync":
            await self.close(code=CLOSE_RESYNC)
        else:
            await super().dispatch(message)

    def _already_sent(self, frame_id: str) -> bool:
        """Whether this socket got the frame `frame_id` through another of its groups already."""
        if not frame_id:
            return False
        if frame_id in self._recent_frame_ids:
            return True
        self._recent_frame_ids[frame_id] = None
        if len(self._recent_frame_ids) > RECENT_FRAME_IDS:
            self._recent_frame_ids.popitem(last=False)
        return False

    async def realtime_event(self, message):
        if message.get("exclude") == self.channel_name or self._already_sent(message.get("id", "")):
            return
        text = message.get("text")
        if text is None:  # sent by a process still running the previous release
            text = json.dumps({"type": message["event"], "data": message["data"]})
        await self.base_send({"type": "websocket.send", "text": text})

    async def topic_revoke(self, message):
        """The user may no longer follow a topic (removed from a team-chat room): leave it now."""
        group = message["group"]
        if group in self.subscriptions:
            await self.drop_subscription(group)
            topic, _, ref = group.removeprefix(f"{self.schema_name}.").partition(".")
            await self.send_json({"type": "unsubscribed", "data": {"topic": topic, "id": ref}})

    async def company_close(self, message):
        await self.close(code=message["code"])
