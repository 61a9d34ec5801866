"""Events published before any consumer ever ran are not lost: every publisher declares the
durable queues of every consumer (crm_common.topology) before its first publish, and every
queue name carries the installation's name."""

from __future__ import annotations

import uuid

import aio_pika

from crm_common.amqp import EventPublisher
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
            queue = await channel.declare_queue(consumer.name(instance), passive=True)
            message = await queue.get(no_ack=True, fail=False)
            assert message is not None, f"{consumer.name(instance)} lost the event"
            assert message.message_id == event.id
        # The consumer of customer events has its queue too, but not this event.
        customer_events = await channel.declare_queue(
            PIPELINE_CUSTOMER_EVENTS.name(instance), passive=True
        )
        assert await customer_events.get(no_ack=True, fail=False) is None
        for queue_of in CONSUMER_QUEUES:
            await channel.queue_delete(queue_of.name(instance))
            await channel.queue_delete(f"{queue_of.name(instance)}.dlq")
    finally:
        await connection.close()


def test_every_queue_name_carries_the_instance() -> None:
    names = {queue.name("team-b") for queue in CONSUMER_QUEUES}
    assert all(name.startswith("team-b.") for name in names)
    assert len(names) == len(CONSUMER_QUEUES)


async def _exists(connection: aio_pika.abc.AbstractRobustConnection, name: str) -> bool:
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    await channel.close()
    return True
