"""The pipeline API process: composition root and Starlette app.

The lifespan opens MongoDB and RabbitMQ, creates indexes, seeds the default pipeline, starts
the customer-events consumer and (unless ``PIPELINE_RELAY_ENABLED=false``) the outbox relay,
and closes everything on shutdown. Handlers reach the clients through the lifespan state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from aio_pika.abc import AbstractRobustConnection
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from crm_common.amqp import (
    EventConsumer,
    EventHandler,
    EventPublisher,
    PoisonMessage,
    connect,
)
from crm_common.disconnect import CancelOnDisconnect
from crm_common.errors import Unauthenticated
from crm_common.events import CloudEvent
from crm_common.identity import Identity, TokenVerifier
from crm_common.mongo import connect_mongo, ping
from crm_common.outbox import OutboxRelay
from crm_common.topology import PIPELINE_CUSTOMER_EVENTS
from crm_common.web import IdentityMiddleware, health_routes, metrics_route
from pipeline.adapters.mongo import (
    MongoKnownCustomers,
    MongoOpportunityRepository,
    MongoPipelineRepository,
    MongoProcessedEvents,
    create_indexes,
)
from pipeline.entrypoints.context import PipelineContext, Services
from pipeline.entrypoints.schema import schema
from pipeline.service_layer.services import (
    InvalidEvent,
    handle_customer_event,
    seed_default_pipeline,
)
from pipeline.settings import Settings

log = logging.getLogger(__name__)

CUSTOMER_EVENT_KEYS = PIPELINE_CUSTOMER_EVENTS.routing_keys
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


@dataclass(slots=True)
class Runtime:
    """What the lifespan opened; the readiness checks look at it."""

    services: Services | None = None
    amqp: AbstractRobustConnection | None = None


class PipelineGraphQL(GraphQL[PipelineContext, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> PipelineContext:
        state = request.scope.get("state") or {}
        identity = state.get("identity")
        if not isinstance(identity, Identity):  # IdentityMiddleware guards /graphql
            raise Unauthenticated("missing identity")
        services: Services = state["services"]
        traceparent = request.headers.get("traceparent", "").strip().lower()
        return PipelineContext(
            services=services,
            identity=identity,
            # Carried into the events only when well-formed (W3C trace context).
            traceparent=traceparent if TRACEPARENT.fullmatch(traceparent) else None,
        )


def _customer_event_handler(
    customers: MongoKnownCustomers,
    pipelines: MongoPipelineRepository,
    opportunities: MongoOpportunityRepository,
    processed: MongoProcessedEvents,
    notify: Callable[[], None],
) -> EventHandler:
    async def handle(event: CloudEvent) -> None:
        try:
            await handle_customer_event(
                event,
                customers=customers,
                pipelines=pipelines,
                opportunities=opportunities,
                processed=processed,
                notify_outbox=notify,
            )
        except InvalidEvent as exc:
            raise PoisonMessage(str(exc)) from exc

    return handle


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        mongo = connect_mongo(settings.mongodb_url, "crm-pipeline")
        amqp: AbstractRobustConnection | None = None
        publisher: EventPublisher | None = None
        relay: OutboxRelay | None = None
        consumer: EventConsumer | None = None
        try:
            db = mongo[settings.database]
            await create_indexes(db)
            pipelines = MongoPipelineRepository(db)
            opportunities = MongoOpportunityRepository(db)
            customers = MongoKnownCustomers(db)
            processed = MongoProcessedEvents(db)
            await seed_default_pipeline(pipelines)

            amqp = await connect(settings.amqp_url)
            runtime.amqp = amqp
            if settings.relay_enabled:
                publisher = EventPublisher(amqp, instance=settings.instance)
                relay = OutboxRelay(
                    opportunities.collection,
                    publisher,
                    poll_interval=settings.relay_poll_interval,
                    batch_size=settings.relay_batch_size,
                    max_backoff=settings.relay_max_backoff,
                )
            # The relay's fast path: each write hands it the document's pending events, so no
            # sweep per write; its periodic sweep covers what a crash or another process left.
            opportunities.listen(relay)

            def notify() -> None:
                pass

            consumer = EventConsumer(
                amqp,
                settings.customer_events_queue,
                CUSTOMER_EVENT_KEYS,
                _customer_event_handler(customers, pipelines, opportunities, processed, notify),
            )
            await consumer.start()
            services = Services(
                settings=settings,
                mongo=mongo,
                db=db,
                pipelines=pipelines,
                opportunities=opportunities,
                customers=customers,
                processed=processed,
                notify_outbox=notify,
            )
            runtime.services = services
            if relay is not None:
                relay.start()
            log.info(
                "pipeline API ready",
                extra={"database": settings.database, "relay": settings.relay_enabled},
            )
            yield {"services": services}
        finally:
            runtime.services = None
            if relay is not None:
                await relay.stop()
            if consumer is not None:
                await consumer.close()
            if publisher is not None:
                await publisher.close()
            if amqp is not None:
                await amqp.close()
            runtime.amqp = None
            await mongo.close()

    async def mongo_ready() -> None:
        if runtime.services is None:
            raise RuntimeError("not started")
        await ping(runtime.services.mongo)

    async def amqp_ready() -> None:
        amqp = runtime.amqp
        if amqp is None or amqp.is_closed or not amqp.connected.is_set():
            raise RuntimeError("AMQP connection not open")

    ide: Literal["graphiql"] | None = None if settings.environment == "production" else "graphiql"
    graphql = PipelineGraphQL(schema, graphql_ide=ide)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *health_routes({"mongo": mongo_ready, "amqp": amqp_ready}),
            metrics_route,
        ],
        middleware=[
            # A request whose client (the gateway) went away stops being worked on.
            Middleware(CancelOnDisconnect),
            Middleware(
                IdentityMiddleware,
                verifier=TokenVerifier(settings),
                protected_prefix="/graphql",
            ),
        ],
        lifespan=lifespan,
    )
