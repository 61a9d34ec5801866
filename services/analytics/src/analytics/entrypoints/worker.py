"""The analytics event worker: ``crm.events`` -> event store + report projections.

Composition root of the ``analytics-worker`` process. It consumes the durable queue
``ANALYTICS_QUEUE`` (default ``analytics.events``) bound with ``pipeline.opportunity.#``,
acknowledges a message only after its write, retries failing writes with back-off and
dead-letters poison messages to ``<queue>.dlq`` (``crm_common.amqp.EventConsumer``). It stops
cleanly on SIGTERM / SIGINT (see ``serve``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from analytics.adapters.mongo import MongoEventStore, MongoOpportunityProjection, ensure_indexes
from analytics.domain.model import InvalidEvent
from analytics.entrypoints.messages import to_change
from analytics.service_layer import services
from analytics.service_layer.ports import EventStore, OpportunityProjection
from analytics.settings import Settings
from crm_common.amqp import EventConsumer, EventHandler, PoisonMessage, connect
from crm_common.events import CloudEvent, iso, utcnow
from crm_common.logging import configure_logging
from crm_common.mongo import connect_mongo, ping

log = logging.getLogger(__name__)

ROUTING_KEYS = ("pipeline.opportunity.#",)


#: How long a stopping worker waits for deliveries already received to be handled and acked.
DRAIN_SECONDS = 10.0


def make_handler(events: EventStore, projection: OpportunityProjection) -> EventHandler:
    """The consumer's handler: invalid payloads are poison, everything else is retried."""

    async def handle(event: CloudEvent) -> None:
        try:
            change = to_change(event)
        except InvalidEvent as exc:
            raise PoisonMessage(str(exc)) from exc
        recorded = await services.record_event(
            event.id,
            event.model_dump(exclude_none=True),
            change,
            events=events,
            projection=projection,
        )
        if recorded:
            log.debug("event recorded", extra={"event_id": event.id, "type": event.type})

    return handle


def health_probe(
    consumer: EventConsumer,
    connection: AbstractRobustConnection,
    mongo: AsyncMongoClient[dict[str, Any]],
    within: float,
) -> Callable[[], Awaitable[bool]]:
    """Healthy = subscribed, AMQP connected (not reconnecting), and MongoDB answers a ping."""

    async def healthy() -> bool:
        if not consumer.is_consuming or not connection.connected.is_set():
            return False
        try:
            await asyncio.wait_for(ping(mongo), within)
        except Exception:
            return False
        return True

    return healthy


async def heartbeat(
    path: Path, every: float, healthy: Callable[[], Awaitable[bool]], stop: asyncio.Event
) -> None:
    """Write the time into ``path`` every ``every`` seconds while ``healthy()``; remove it at
    the end, so that a stopping or stuck worker is reported unhealthy by the file's age."""
    try:
        while not stop.is_set():
            if await healthy():
                await asyncio.to_thread(path.write_text, iso(utcnow()) + "\n")
            else:
                log.warning("worker unhealthy: heartbeat not written")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Consume until ``stop`` is set, then close everything that was opened.

    Shutdown order: cancel the subscription (no new deliveries), wait (bounded) until the
    deliveries already received are handled and acknowledged, close the consumer channel, the
    AMQP connection, then MongoDB. A handler cut short is harmless: its unacknowledged message
    returns to the queue and the projection is idempotent.
    """
    mongo: AsyncMongoClient[dict[str, Any]] = connect_mongo(
        settings.mongodb_url, "analytics-worker"
    )
    connection: AbstractRobustConnection | None = None
    consumer: EventConsumer | None = None
    beat: asyncio.Task[None] | None = None
    try:
        db = mongo[settings.database]
        await ensure_indexes(db)
        connection = await connect(settings.amqp_url)
        consumer = EventConsumer(
            connection,
            settings.queue,
            ROUTING_KEYS,
            make_handler(MongoEventStore(db), MongoOpportunityProjection(db)),
            prefetch=settings.prefetch,
            max_attempts=settings.max_attempts,
        )
        await consumer.start()
        log.info(
            "worker consuming",
            extra={"queue": settings.queue, "database": settings.database},
        )
        if settings.heartbeat_path:
            beat = asyncio.create_task(
                heartbeat(
                    Path(settings.heartbeat_path),
                    settings.heartbeat_seconds,
                    health_probe(consumer, connection, mongo, settings.heartbeat_seconds),
                    stop,
                )
            )
        await stop.wait()
        log.info("worker stopping")
    finally:
        if beat is not None:
            stop.set()
            await beat  # removes the heartbeat file first: stopping is not healthy
        if consumer is not None:
            if not await consumer.stop_consuming(DRAIN_SECONDS):
                log.warning(
                    "deliveries still being handled at shutdown; they will be redelivered",
                    extra={"running": consumer.in_flight.running},
                )
            await consumer.close()
        if connection is not None:
            await connection.close()
        await mongo.close()
        log.info("worker stopped")


async def main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, stop)


def run() -> None:
    settings = Settings()
    configure_logging("analytics-worker", settings.log_level)
    asyncio.run(main(settings))
