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
from datetime import timedelta
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from analytics.adapters.mongo.collections import ensure_indexes
from analytics.adapters.mongo.deal_repository import MongoDealRepository
from analytics.adapters.mongo.event_store import MongoEventStore
from analytics.adapters.mongo.webhooks import MongoWebhooks
from analytics.adapters.notices import projection_updated
from analytics.adapters.webhook_sender import AddressCheck, HttpSender
from analytics.domain.model import InvalidEvent, OpportunityChange
from analytics.domain.webhooks import RetryPolicy
from analytics.entrypoints.messages import stored_change, to_change
from analytics.service_layer import services
from analytics.service_layer.ports import DealRepository, EventStore
from analytics.service_layer.webhooks import Dispatcher, WebhookFanOut
from analytics.settings import Settings
from crm_common.amqp import EventConsumer, EventHandler, EventPublisher, PoisonMessage, connect
from crm_common.events import CloudEvent, iso, utcnow
from crm_common.logging import configure_logging
from crm_common.mongo import connect_mongo, ping
from crm_common.topology import ANALYTICS_EVENTS

log = logging.getLogger(__name__)

ROUTING_KEYS = ANALYTICS_EVENTS.routing_keys


#: How long a stopping worker waits for deliveries already received to be handled and acked.
DRAIN_SECONDS = 10.0


class Notifier:
    """Tells API processes which pipelines' projections changed: at most one
    ``analytics.projection.updated`` event per pipeline every ``every`` seconds, on
    ``crm.events`` (the API's live queue feeds ``funnelUpdates`` from it, so a subscriber never
    recomputes a report before the worker has written it). Best effort: a lost notification
    only delays an update until the next one."""

    def __init__(
        self, publisher: EventPublisher | None, every: float, deals: DealRepository | None = None
    ) -> None:
        self._publisher = publisher
        self._deals = deals
        self._every = every
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._sequence = 0

    def touch(self, changes: list[OpportunityChange]) -> None:
        for change in changes:
            if change.pipeline_id is not None:
                self._dirty.add(change.pipeline_id)
        if self._dirty:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
            await asyncio.sleep(self._every)
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for pipeline_id in sorted(dirty):
                await self._publish(pipeline_id)

    async def _publish(self, pipeline_id: str) -> None:
        self._sequence += 1
        try:
            if self._deals is not None:
                await self._deals.bump(pipeline_id)
            if self._publisher is None:
                return
            await self._publisher.publish(projection_updated(pipeline_id, self._sequence))
        except Exception as exc:  # best effort, see the class docstring
            log.warning("notification failed", extra={"error": repr(exc)})


class Batcher:
    """Group commit: the handlers of the deliveries in hand (up to the prefetch count) wait
    while their events are written together (``services.record_batch``): one insert of the
    events, one read and one bulk write of the states. A batch is flushed when it is full or
    ``linger`` seconds after its first event; flushes (and gap sweeps) run one at a time, so
    an opportunity's events are folded in one place only."""

    def __init__(
        self,
        events: EventStore,
        deals: DealRepository,
        *,
        max_batch: int,
        linger: float = 0.01,
        lock: asyncio.Lock | None = None,
    ) -> None:
        self._events = events
        self._deals = deals
        self._max = max(1, max_batch)
        self._linger = linger
        self.lock = lock or asyncio.Lock()
        self._pending: list[tuple[services.Incoming, asyncio.Future[list[OpportunityChange]]]] = []
        self._ready = asyncio.Event()
        self._full = asyncio.Event()

    async def submit(self, item: services.Incoming) -> list[OpportunityChange]:
        future: asyncio.Future[list[OpportunityChange]] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._ready.set()
        if len(self._pending) >= self._max:
            self._full.set()
        return await future

    async def run(self) -> None:
        """Flush until cancelled (after the consumer has drained its deliveries)."""
        while True:
            await self._ready.wait()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._linger)
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            if len(self._pending) < self._max:
                self._full.clear()
            if not self._pending:
                self._ready.clear()
            if batch:
                await self._flush(batch)

    async def _flush(
        self, batch: list[tuple[services.Incoming, asyncio.Future[list[OpportunityChange]]]]
    ) -> None:
        try:
            async with self.lock:
                results = await services.record_batch(
                    [item for item, _ in batch],
                    events=self._events,
                    deals=self._deals,
                    parse=stored_change,
                    now=utcnow(),
                )
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


def make_handler(
    batcher: Batcher,
    notifier: Notifier | None = None,
    fan_out: Callable[[CloudEvent], Awaitable[None]] | None = None,
) -> EventHandler:
    """The consumer's handler: invalid payloads are poison, everything else is retried. After
    the event is stored, its webhook deliveries are written (idempotent: once per webhook and
    event, however often the message comes), so an ack always follows both."""

    async def handle(event: CloudEvent) -> None:
        try:
            change = to_change(event)
        except InvalidEvent as exc:
            raise PoisonMessage(str(exc)) from exc
        applied = await batcher.submit(
            services.Incoming(event.id, event.model_dump(exclude_none=True), change)
        )
        if notifier is not None:
            notifier.touch(applied)
        if fan_out is not None:
            await fan_out(event)

    return handle


async def sweep_gaps(
    settings: Settings,
    events: EventStore,
    deals: DealRepository,
    lock: asyncio.Lock,
    notifier: Notifier,
    stop: asyncio.Event,
) -> None:
    """Every ``gap_check_seconds``: apply the events held longer than ``gap_timeout_seconds``
    (under the batcher's lock: never while a batch is being folded)."""
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.gap_check_seconds)
        if stop.is_set():
            return
        try:
            older_than = utcnow() - timedelta(seconds=settings.gap_timeout_seconds)
            async with lock:
                await services.release_gaps(
                    older_than=older_than,
                    events=events,
                    deals=deals,
                    parse=stored_change,
                    on_applied=notifier.touch,
                )
        except Exception as exc:
            log.warning("gap sweep failed; retrying later", extra={"error": repr(exc)})


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
    flusher: asyncio.Task[None] | None = None
    try:
        db = mongo[settings.database]
        await ensure_indexes(db)
        connection = await connect(settings.amqp_url)
        events = MongoEventStore(db)
        deals = MongoDealRepository(db, cache_size=settings.cache_size)
        publisher = EventPublisher(connection, instance=settings.instance)
        notifier = Notifier(publisher, settings.notify_seconds, deals)
        batcher = Batcher(events, deals, max_batch=settings.prefetch)
        flusher = asyncio.create_task(batcher.run())
        hooks = MongoWebhooks(db)
        fan_out = WebhookFanOut(hooks)
        sender = HttpSender(
            AddressCheck(settings.webhook_hosts), timeout=settings.webhook_timeout_seconds
        )
        dispatcher = Dispatcher(
            hooks,
            sender,
            retry_policy(settings),
            wake=fan_out.wake,
            concurrency=settings.webhook_concurrency,
        )
        consumer = EventConsumer(
            connection,
            settings.queue,
            ROUTING_KEYS,
            make_handler(batcher, notifier, fan_out),
            prefetch=settings.prefetch,
            max_attempts=settings.max_attempts,
        )
        await consumer.start()
        background = [
            asyncio.create_task(notifier.run(stop)),
            asyncio.create_task(sweep_gaps(settings, events, deals, batcher.lock, notifier, stop)),
            asyncio.create_task(dispatcher.run(stop)),
        ]
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
        await asyncio.gather(*background, return_exceptions=True)
        await sender.close()
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
        if flusher is not None:  # after the drain: the handlers in hand wait for their flush
            flusher.cancel()
            with suppress(asyncio.CancelledError):
                await flusher
        if connection is not None:
            await connection.close()
        await mongo.close()
        log.info("worker stopped")


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        first_delay=timedelta(seconds=settings.webhook_retry_first_seconds),
        max_delay=timedelta(seconds=settings.webhook_retry_max_seconds),
        window=timedelta(seconds=settings.webhook_retry_window_seconds),
        disable_after=settings.webhook_disable_after,
    )


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
