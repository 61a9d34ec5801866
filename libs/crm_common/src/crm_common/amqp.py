"""RabbitMQ topology and the two ways every process touches it: publish with confirms, and
consume with manual acks, bounded retries and a dead-letter queue.

Topology: the durable topic exchange ``crm.events``; each consumer owns a durable queue
``<name>`` bound with its routing patterns, and a dead-letter queue ``<name>.dlq`` fed through
the exchange ``crm.dlx``. A message that fails ``max_attempts`` times, or that cannot be parsed
at all, is dead-lettered with the reason in its headers; the consumer keeps going.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika
import pymongo.errors
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    ConsumerTag,
)

from crm_common.events import CONTENT_TYPE, EXCHANGE, CloudEvent
from crm_common.topology import CONSUMER_QUEUES, DEFAULT_INSTANCE, ConsumerQueue

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "crm.dlx"


class PoisonMessage(Exception):
    """Raised by a handler for a message that no retry can fix (invalid, unknown)."""


async def connect(url: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(url, client_properties={"connection_name": "crm"})


async def declare_exchange(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)


class EventPublisher:
    """Publishes CloudEvents to ``crm.events`` and returns only once the broker confirmed.

    Before its first publish on a channel it declares the durable queues of every consumer
    (``crm_common.topology``), so an event is never dropped for want of a bound queue.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        *,
        instance: str = DEFAULT_INSTANCE,
        consumer_queues: Sequence[ConsumerQueue] = CONSUMER_QUEUES,
    ) -> None:
        self._connection = connection
        self._instance = instance
        self._consumer_queues = consumer_queues
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def _ready(self) -> AbstractExchange:
        if self._exchange is None or self._channel is None or self._channel.is_closed:
            channel = await self._connection.channel(publisher_confirms=True)
            await declare_topology(channel, self._instance, self._consumer_queues)
            self._exchange = await declare_exchange(channel)
            self._channel = channel
        return self._exchange

    async def publish(self, event: CloudEvent) -> None:
        exchange = await self._ready()
        message = aio_pika.Message(
            body=event.to_json(),
            content_type=CONTENT_TYPE,
            message_id=event.id,
            type=event.type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        # With publisher confirms, ``publish`` resolves when the broker has taken the message
        # (and raises if it was nacked or returned); only then may the outbox mark it sent.
        await exchange.publish(message, routing_key=event.type, mandatory=False, timeout=10)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()


EventHandler = Callable[[CloudEvent], Awaitable[None]]


#: Replicated on every broker node of a cluster (Raft): a node's loss loses no message.
QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}
#: Deliveries of one message before the broker itself dead-letters it (a consumer that crashes
#: on it again and again); the consumer dead-letters what it rejects long before that.
DELIVERY_LIMIT = 20


def consumer_queue_arguments(name: str) -> dict[str, Any]:
    """A consumer queue's arguments, the same wherever it is declared.

    - quorum (replicated), with at-least-once dead-lettering (which needs ``reject-publish``
      overflow) into the queue's ``.dlq``;
    - single active consumer: any number of consumer replicas may subscribe; the broker
      delivers to one at a time, in queue order, and switches to another when it goes away,
      so the events of an aggregate are never handled by two replicas at once or out of
      order.
    """
    return {
        **QUORUM,
        "x-single-active-consumer": True,
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": name,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare_consumer_queue(
    channel: AbstractChannel, name: str, routing_keys: Sequence[str]
) -> AbstractQueue:
    exchange = await declare_exchange(channel)
    dlx = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dlq = await _declare_or_keep(channel, f"{name}.dlq", QUORUM)
    await dlq.bind(dlx, routing_key=name)
    queue = await _declare_or_keep(channel, name, consumer_queue_arguments(name))
    for key in routing_keys:
        await queue.bind(exchange, routing_key=key)
    return queue


async def _declare_or_keep(
    channel: AbstractChannel, name: str, arguments: dict[str, Any]
) -> AbstractQueue:
    """Declare the queue; one that an older version created with other arguments (a classic
    queue) is kept as it is, with a warning: deleting it would lose its messages. The broker
    refuses the declaration and closes the channel, which is reopened for a passive one."""
    try:
        return await channel.declare_queue(name, durable=True, arguments=arguments)
    except aio_pika.exceptions.ChannelPreconditionFailed:
        await channel.reopen()
        log.warning(
            "queue exists with older arguments (a classic queue?); kept as it is. To move it "
            "to a quorum queue, drain it and delete it (a demo: make reset)",
            extra={"queue": name},
        )
        return await channel.declare_queue(name, passive=True)


async def declare_topology(
    channel: AbstractChannel,
    instance: str,
    consumer_queues: Sequence[ConsumerQueue] = CONSUMER_QUEUES,
) -> None:
    """Declare every consumer's durable queue and bindings (idempotent, same arguments)."""
    for queue in consumer_queues:
        await declare_consumer_queue(channel, queue.name(instance), queue.routing_keys)


class _InFlight:
    """Counts deliveries being handled, so that shutdown can wait for their acks."""

    def __init__(self) -> None:
        self.running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> None:
        self.running += 1
        self._idle.clear()

    def __exit__(self, *_: object) -> None:
        self.running -= 1
        if self.running == 0:
            self._idle.set()

    async def drained(self, within: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True


# Failures of what the handler writes to, not of the message: retried for as long as it takes
# (capped back-off), because dead-lettering a valid event during a database outage would turn an
# outage into lost data.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ServerSelectionTimeoutError,
    pymongo.errors.NetworkTimeout,
    ConnectionError,
    TimeoutError,
)


class EventConsumer:
    """Consumes one durable queue, acking only after the handler's write succeeded.

    A message that is not a CloudEvent, or that the handler rejects with ``PoisonMessage``, is
    dead-lettered at once; one that fails with another error is retried ``max_attempts`` times,
    then dead-lettered with the reason; transient infrastructure errors are retried without
    limit. ``stop_consuming`` lets a process stop without leaving half-handled deliveries.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        queue_name: str,
        routing_keys: Sequence[str],
        handler: EventHandler,
        *,
        prefetch: int = 64,
        max_attempts: int = 5,
        base_delay: float = 0.2,
        max_delay: float = 30.0,
    ) -> None:
        self._connection = connection
        self._queue_name = queue_name
        self._routing_keys = routing_keys
        self._handler = handler
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._channel: AbstractChannel | None = None
        self._dlx: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: ConsumerTag | None = None
        self.in_flight = _InFlight()

    async def start(self) -> None:
        self._channel = await self._connection.channel()
        self._queue = await declare_consumer_queue(
            self._channel, self._queue_name, self._routing_keys
        )
        # After the declarations: a reopened channel (an older queue kept) starts afresh.
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._dlx = await self._channel.get_exchange(DEAD_LETTER_EXCHANGE)
        self._consumer_tag = await self._queue.consume(self._on_message)

    @property
    def is_consuming(self) -> bool:
        channel = self._channel
        return self._consumer_tag is not None and channel is not None and not channel.is_closed

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self._dlx is not None
        headers = dict(message.headers or {})
        headers["x-death-reason"] = reason[:1000]
        headers["x-original-routing-key"] = message.routing_key or ""
        await self._dlx.publish(
            aio_pika.Message(
                body=message.body,
                headers=headers,
                content_type=message.content_type,
                message_id=message.message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=self._queue_name,
        )
        await message.ack()
        log.warning("dead-lettered", extra={"queue": self._queue_name, "reason": reason[:300]})

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        with self.in_flight:  # covers the handler and the ack (or the dead-lettering)
            await self._handle(message)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            event = CloudEvent.from_json(message.body)
        except ValueError as exc:
            await self._dead_letter(message, f"not a valid CloudEvent: {exc}")
            return
        failures = 0
        while True:
            try:
                await self._handler(event)
            except PoisonMessage as exc:
                await self._dead_letter(message, f"rejected by handler: {exc}")
                return
            except TRANSIENT_ERRORS as exc:
                delay = min(self._max_delay, self._base_delay * 2 ** min(failures, 16))
                log.warning(
                    "infrastructure unavailable, retrying",
                    extra={"event_id": event.id, "error": repr(exc), "delay": delay},
                )
                await asyncio.sleep(delay)
            except Exception as exc:
                failures += 1
                if failures >= self._max_attempts:
                    await self._dead_letter(
                        message, f"failed {failures} times: {type(exc).__name__}: {exc}"
                    )
                    return
                log.warning(
                    "handler failed, retrying",
                    extra={"event_id": event.id, "attempt": failures, "error": repr(exc)},
                )
                await asyncio.sleep(min(self._max_delay, self._base_delay * 2 ** (failures - 1)))
            else:
                await message.ack()
                return

    async def stop_consuming(self, drain_seconds: float = 10.0) -> bool:
        """Cancel the subscription, then wait until received deliveries are acknowledged.

        Returns ``False`` if some were still running after ``drain_seconds``; they are
        redelivered once the channel closes (handlers are idempotent).
        """
        channel = self._channel
        if self._queue is not None and self._consumer_tag is not None:
            if channel is not None and not channel.is_closed:
                await self._queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        return await self.in_flight.drained(drain_seconds)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
