"""Events published before any consumer ever ran are not lost: every publisher declares the
durable queues of every consumer (crm_common.topology) before its first publish, and every
queue name carries the installation's name."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from crm_common.amqp import (
    EventPublisher,
    consumer_queue_arguments,
    declare_consumer_queue,
    declare_exchange,
)
from crm_common.events import new_event
from crm_common.topology import (
    ANALYTICS_EVENTS,
    CONSUMER_QUEUES,
    CUSTOMERS_PIPELINE_EVENTS,
    PIPELINE_CUSTOMER_EVENTS,
)
from support.infrastructure import Infrastructure


async def test_an_event_published_before_its_consumer_started_waits_in_its_queue(
    infrastructure: Infrastructure,
) -> None:
    instance = f"{infrastructure.instance}-topology-{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect_robust(infrastructure.amqp_url)
    try:
        channel = await connection.channel()
        for queue in CONSUMER_QUEUES:  # no consumer of this installation has ever run
            assert not await _exists(connection, queue.name(instance))
        publisher = EventPublisher(connection, instance=instance)
        deal = str(uuid.uuid4())
        event = new_event(
            source="crm/pipeline",
            type="pipeline.opportunity.created",
            subject=deal,
            sequence=1,
            data={"opportunityId": deal},
            actor_id="rep-1",
        )
        await publisher.publish(event)
        await publisher.close()

        # Each consumer that binds pipeline.opportunity.* finds the event when it starts.
        for consumer in (ANALYTICS_EVENTS, CUSTOMERS_PIPELINE_EVENTS):
            ids = await _consume_for(channel, consumer.name(instance), seconds=5, until=1)
            assert ids == [event.id], f"{consumer.name(instance)} lost the event"
        # The consumer of customer events has its queue too, but not this event.
        assert await _consume_for(channel, PIPELINE_CUSTOMER_EVENTS.name(instance), 0.5) == []
        for queue_of in CONSUMER_QUEUES:
            await channel.queue_delete(queue_of.name(instance))
            await channel.queue_delete(f"{queue_of.name(instance)}.dlq")
    finally:
        await connection.close()


def test_every_queue_name_carries_the_instance() -> None:
    names = {queue.name("team-b") for queue in CONSUMER_QUEUES}
    assert all(name.startswith("team-b.") for name in names)
    assert len(names) == len(CONSUMER_QUEUES)


async def _consume_for(
    channel: aio_pika.abc.AbstractChannel, name: str, seconds: float, until: int | None = None
) -> list[str | None]:
    """The message ids a subscriber gets within ``seconds`` (a single-active-consumer queue
    refuses ``basic.get``)."""
    queue = await channel.declare_queue(name, passive=True)
    ids: list[str | None] = []
    done = asyncio.Event()

    async def on_message(message: AbstractIncomingMessage) -> None:
        ids.append(message.message_id)
        await message.ack()
        if until is not None and len(ids) >= until:
            done.set()

    tag = await queue.consume(on_message)
    try:
        async with asyncio.timeout(seconds):
            await done.wait()
    except TimeoutError:
        pass
    await queue.cancel(tag)
    return ids


async def _exists(connection: aio_pika.abc.AbstractRobustConnection, name: str) -> bool:
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    await channel.close()
    return True


async def test_consumer_queues_are_quorum_with_one_active_consumer_at_a_time(
    infrastructure: Infrastructure,
) -> None:
    """Any number of consumer replicas may subscribe to a queue: the broker delivers to one at
    a time, in order, and hands over to another when it goes away; the queue is a quorum
    queue (a classic declaration of the same name is refused by the broker)."""
    name = f"{infrastructure.instance}-sac-{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect_robust(infrastructure.amqp_url)
    try:
        channel = await connection.channel()
        await declare_consumer_queue(channel, name, ("test.sac.#",))
        await declare_consumer_queue(channel, name, ("test.sac.#",))  # idempotent
        probe = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await probe.declare_queue(name, durable=True)  # classic: not what exists
        received: dict[str, list[int]] = {"first": [], "second": []}
        tags = {}
        queues = {}
        for replica in ("first", "second"):
            replica_channel = await connection.channel()
            await replica_channel.set_qos(prefetch_count=5)
            queue = await replica_channel.declare_queue(
                name, durable=True, arguments=consumer_queue_arguments(name)
            )

            async def on_message(message: AbstractIncomingMessage, replica: str = replica) -> None:
                received[replica].append(int(message.body))
                await message.ack()

            queues[replica] = queue
            tags[replica] = await queue.consume(on_message)
        exchange = await declare_exchange(channel)

        async def publish(numbers: range) -> None:
            for n in numbers:
                await exchange.publish(aio_pika.Message(str(n).encode()), routing_key="test.sac.x")

        async def delivered(count: int) -> None:
            for _ in range(500):
                if sum(len(v) for v in received.values()) >= count:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"only {received} of {count}")

        await publish(range(50))
        await delivered(50)
        active = "first" if received["first"] else "second"
        standby = "second" if active == "first" else "first"
        assert received[active] == list(range(50))
        assert received[standby] == []
        await queues[active].cancel(tags[active])  # the active replica goes away
        await publish(range(50, 80))
        await delivered(80)
        assert received[standby] == list(range(50, 80))  # the standby took over, in order
        await channel.queue_delete(name)
        await channel.queue_delete(f"{name}.dlq")
    finally:
        await connection.close()


async def test_a_classic_queue_of_an_older_version_is_kept_and_still_consumed(
    infrastructure: Infrastructure,
) -> None:
    """An installation upgraded from classic queues keeps them (deleting one would lose its
    messages): the quorum declaration is refused by the broker, the queue is used as it is."""
    name = f"{infrastructure.instance}-classic-{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect_robust(infrastructure.amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True)  # what an older version made
        queue = await declare_consumer_queue(channel, name, ("test.classic.#",))
        exchange = await declare_exchange(channel)
        await exchange.publish(aio_pika.Message(b"kept", message_id="m-1"), "test.classic.x")
        assert await _consume_for(channel, queue.name, seconds=5, until=1) == ["m-1"]
        await channel.queue_delete(name)
        await channel.queue_delete(f"{name}.dlq")
    finally:
        await connection.close()
