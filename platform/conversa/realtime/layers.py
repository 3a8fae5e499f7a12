"""The channel layer: channels-redis pub/sub, with a bounded queue of frames per socket.

`RedisChannelLayer` writes one copy of a group message per server process into a Redis sorted set
and every socket's `receive()` then takes a lock and spawns tasks to pop it: with 200 sockets that
machinery cost more CPU than writing the frames. The pub/sub layer publishes a group message
once; each server process holds one subscription per group and hands the message to its
sockets' in-process queues.

Differences from `RedisChannelLayer` that matter here:
- a frame is delivered only to sockets connected when it is published (nothing waits in Redis
  for a process that is gone, so there is no `expiry`), which is what a live feed needs;
- group membership lives in the server process with its sockets, so it never expires (the
  sorted-set layer silently dropped sockets open longer than `group_expiry`, one day);
- while a server process's subscription connection is down (a Redis restart, a network blip),
  frames published meanwhile never reach its sockets. redis-py subscribes again when it
  reconnects; at that moment every socket of the process is closed with 1012 (service restart),
  so clients reconnect and catch up on what they missed instead of silently lacking it (the
  sorted-set layer would have kept the frames in Redis for up to `expiry` seconds);
- upstream the per-socket queue is unbounded; here it keeps at most `capacity` frames and drops
  the oldest, as the sorted-set layer's receive buffer did, so a socket that stops reading cannot
  grow the server's memory without end;
- `group_send_many` publishes a list of group messages in one pipelined round trip per shard
  (upstream: one round trip each), for the fan-out of a batch of events;
- a message is decoded once per server process and the same dict is handed to every socket of
  its group (upstream decodes it again in each socket's `receive()`): consumers must not change
  the messages they receive.
"""

import asyncio
import functools
import logging

from channels_redis.core import BoundedQueue
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, create_pool
from redis import asyncio as aioredis
from redis.asyncio.client import PubSub

logger = logging.getLogger("conversa.realtime")

# What a socket gets when frames may have been lost: the consumer closes it with 1012.
RESYNC = {"type": "realtime.resync"}


class _ResyncingPubSub(PubSub):
    """redis-py calls `on_connect` when a dropped subscription connection comes back (not on the
    first connect), after which it subscribes to the channels again."""

    def __init__(self, *args, on_reconnect, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_reconnect = on_reconnect

    async def on_connect(self, connection):
        await super().on_connect(connection)
        self._on_reconnect()


class _ResyncingShard(RedisSingleShardConnection):
    def _receive_message(self, message):
        # As upstream (channels-redis 4.3), decoding the message once for all its sockets.
        if message is None:
            return
        name, layer = message["channel"], self.channel_layer
        if isinstance(name, bytes):
            name = name.decode()
        if name in layer.channels:
            queues = [layer.channels[name]]
        else:
            queues = [layer.channels[channel] for channel in layer.groups.get(name, ())
                      if channel in layer.channels]
        if queues:
            decoded = layer.channel_layer.deserialize(message["data"])
            for queue in queues:
                queue.put_nowait(decoded)

    def _ensure_redis(self):
        # As upstream (channels-redis 4.3), with the pub/sub object above.
        if self._redis is None:
            self._redis = aioredis.Redis(connection_pool=create_pool(self.host))
            self._pubsub = _ResyncingPubSub(
                self._redis.connection_pool, on_reconnect=self.channel_layer.resync_sockets
            )


class _BoundedLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, capacity: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.capacity = capacity
        self._shards = [_ResyncingShard(shard.host, self) for shard in self._shards]

    def resync_sockets(self) -> None:
        """Ask every socket of this process to reconnect: frames may have been lost meanwhile."""
        logger.warning("realtime: the Redis subscription came back; %d sockets asked to reconnect",
                       len(self.channels))
        for queue in self.channels.values():
            queue.put_nowait(RESYNC)

    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = BoundedQueue(self.capacity)
        await self._get_shard(channel).subscribe(channel)

    async def receive(self, channel):
        """As upstream (channels-redis 4.3), without decoding: the shard's receiver did that once."""
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        try:
            return await self.channels[channel].get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # The consumer is exiting (Channels cancels its receive): forget the channel.
            if channel in self.channels:
                del self.channels[channel]
                try:
                    await self._get_shard(channel).unsubscribe(channel)
                except BaseException:
                    logger.exception("Unexpected exception while cleaning-up channel:")
            raise

    async def group_send_many(self, messages):
        by_shard = {}
        for group, message in messages:
            channel = self._get_group_channel_name(group)
            payload = self.channel_layer.serialize(message)
            by_shard.setdefault(self._get_shard(channel), []).append((channel, payload))
        for shard, items in by_shard.items():
            # What upstream's shard.publish does, for many: its lock and connection (channels-redis 4.3).
            async with shard._lock:
                shard._ensure_redis()
                async with shard._redis.pipeline(transaction=False) as pipe:
                    for channel, payload in items:
                        pipe.publish(channel, payload)
                    await pipe.execute()


class RealtimeChannelLayer(RedisPubSubChannelLayer):
    """`RedisPubSubChannelLayer` whose socket queues hold at most `capacity` messages."""

    def __init__(self, *args, capacity: int = 100, **kwargs):
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    def receiver(self, channel: str):
        """`receive(channel)` bound to the running event loop's layer: a socket's relay calls it
        for every frame, without the loop lookup and proxy of `self.receive`."""
        return functools.partial(self._get_layer().receive, channel)

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """Send each (group, message) pair, in order, pipelined."""
        await self._get_layer().group_send_many(messages)

    def _get_layer(self):
        # As upstream (channels-redis 4.3), with the bounded per-loop layer.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _BoundedLoopLayer(*self._args, **self._kwargs, channel_layer=self,
                                      capacity=self.capacity)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
