"""The composition root of the customers API process.

The lifespan opens MongoDB and RabbitMQ, creates the indexes and starts the outbox relay; the
request handlers reach them through the lifespan state (``request.state.runtime``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from crm_common import amqp, mongo
from crm_common.amqp import EventConsumer
from crm_common.disconnect import CancelOnDisconnect
from crm_common.errors import Unauthenticated
from crm_common.identity import Identity, TokenVerifier
from crm_common.outbox import OutboxRelay
from crm_common.web import IdentityMiddleware, health_routes, metrics_route
from customers.adapters.audit_log import AuditMover
from customers.adapters.mongo_repository import (
    AUDIT,
    INTERACTIONS,
    TRANSFERS,
    MongoAuditRepository,
    MongoCustomerRepository,
    MongoInteractionRepository,
    create_indexes,
    customers_collection,
)
from customers.adapters.operations import (
    OPERATIONS,
    MongoOperationLog,
    MongoTransferLog,
    create_operation_indexes,
)
from customers.entrypoints.http import export_route, import_route
from customers.entrypoints.recovery import run_recovery
from customers.entrypoints.schema import Context, build_context, schema
from customers.entrypoints.worker import PIPELINE_EVENT_KEYS, pipeline_event_handler
from customers.settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "crm-customers"


@dataclass(frozen=True, slots=True)
class Runtime:
    """The clients and adapters that live as long as the process."""

    settings: Settings
    mongo: AsyncMongoClient[dict[str, Any]]
    amqp: AbstractRobustConnection
    repository: MongoCustomerRepository
    relay: OutboxRelay
    interactions: MongoInteractionRepository
    audit: MongoAuditRepository
    transfers: MongoTransferLog
    consumer: EventConsumer | None
    operations: MongoOperationLog


class _Slot:
    """Where the health checks find the runtime (they are built before the lifespan runs)."""

    runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("not started")
        return self.runtime

    def get_repository(self) -> MongoCustomerRepository:
        return self.get().repository


class CustomersGraphQL(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.scope.get("state") or {}
        identity = state.get("identity")
        runtime = state.get("runtime")
        if not isinstance(identity, Identity):
            raise Unauthenticated("missing identity")  # the middleware always sets it
        if not isinstance(runtime, Runtime):
            raise RuntimeError("the customers runtime is not started")
        return build_context(
            identity,
            runtime.repository,
            interactions=runtime.interactions,
            audit=runtime.audit,
            transfers=runtime.transfers,
            phone_region=runtime.settings.phone_region,
            request=request,
            response=response,
            operations=runtime.operations,
            import_max_chars=runtime.settings.import_graphql_max_chars,
        )


async def _bounded(name: str, close: Callable[[], Awaitable[object]], seconds: float = 5) -> None:
    """Shutdown never hangs on one client: each close gets a few seconds, then is abandoned."""
    try:
        async with asyncio.timeout(seconds):
            await close()
    except Exception as exc:  # logged, not raised: the other clients must still be closed
        log.warning("closing failed", extra={"client": name, "error": repr(exc)})


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    slot = _Slot()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            client = mongo.connect_mongo(settings.mongodb_url, APP_NAME)
            stack.push_async_callback(_bounded, "mongo", client.close)
            connection = await amqp.connect(settings.amqp_url)
            stack.push_async_callback(_bounded, "amqp", connection.close)
            publisher = amqp.EventPublisher(connection, instance=settings.instance)
            stack.push_async_callback(_bounded, "publisher", publisher.close)
            database = client[settings.database]
            collection = customers_collection(database)
            await create_indexes(database)
            await create_operation_indexes(database)
            relay = OutboxRelay(
                collection,
                publisher,
                poll_interval=settings.relay_poll_interval,
                batch_size=settings.relay_batch_size,
                max_backoff=settings.relay_max_backoff,
            )
            transfer_relay = OutboxRelay(
                database[TRANSFERS],
                publisher,
                poll_interval=settings.relay_poll_interval,
                batch_size=settings.relay_batch_size,
                max_backoff=settings.relay_max_backoff,
            )
            mover = AuditMover(collection, database[AUDIT])
            audit = MongoAuditRepository(database[AUDIT], pending=mover)
            repository = MongoCustomerRepository(
                collection, outbox_listener=relay, audit=mover, wake_relay=relay.wake
            )
            interactions = MongoInteractionRepository(database[INTERACTIONS])
            transfers = MongoTransferLog(database[TRANSFERS], transfer_relay)
            operation_log = MongoOperationLog(database[OPERATIONS])
            backfilled = await repository.backfill_search_fields()
            if backfilled:
                log.info("search fields backfilled", extra={"documents": backfilled})
            relay.start()
            stack.push_async_callback(relay.stop)
            transfer_relay.start()
            stack.push_async_callback(transfer_relay.stop)
            # Audit entries and merges/transfers a crash left unfinished (first pass at once).
            recovery = asyncio.create_task(
                run_recovery(
                    mover,
                    operation_log,
                    repository,
                    interactions,
                    transfers,
                    settings.recovery_interval,
                ),
                name="customers-recovery",
            )
            stack.push_async_callback(_cancel, recovery)
            consumer = None
            if settings.consumer_enabled:
                consumer = EventConsumer(
                    connection,
                    settings.consumer_queue,
                    PIPELINE_EVENT_KEYS,
                    pipeline_event_handler(repository, interactions),
                )
                await consumer.start()
                stack.push_async_callback(consumer.stop_consuming)
            slot.runtime = Runtime(
                settings,
                client,
                connection,
                repository,
                relay,
                interactions,
                audit,
                transfers,
                consumer,
                operation_log,
            )
            log.info("customers started", extra={"database": settings.database})
            try:
                yield {"runtime": slot.runtime}
            finally:
                slot.runtime = None

    async def mongo_ready() -> None:
        await mongo.ping(slot.get().mongo)

    async def amqp_ready() -> None:
        runtime = slot.get()
        if runtime.amqp.is_closed:
            raise ConnectionError("the AMQP connection is closed")
        if runtime.consumer is not None and not runtime.consumer.is_consuming:
            raise ConnectionError("the pipeline-event consumer is not consuming")

    verifier = TokenVerifier(settings)
    graphql = CustomersGraphQL(
        schema, graphql_ide="graphiql" if settings.environment == "development" else None
    )
    return Starlette(
        routes=[
            Route("/graphql", graphql),
            export_route(verifier, slot.get_repository),
            import_route(verifier, slot.get_repository, settings),
            *health_routes({"mongo": mongo_ready, "amqp": amqp_ready}),
            metrics_route,
        ],
        middleware=[
            # A request whose client (the gateway) went away stops being worked on.
            Middleware(CancelOnDisconnect),
            Middleware(IdentityMiddleware, verifier=verifier, protected_prefix="/graphql"),
        ],
        lifespan=lifespan,
    )
