"""The pipeline API process: its composition root (the shell is ``crm_common.shell``'s).

At start it opens MongoDB and RabbitMQ, creates indexes, seeds the default pipeline, starts
the customer-events consumer and (unless ``PIPELINE_RELAY_ENABLED=false``) the outbox relay;
the shell closes them at shutdown.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from crm_common.amqp import EventConsumer, EventHandler, PoisonMessage
from crm_common.events import CloudEvent
from crm_common.identity import Identity, TokenVerifier
from crm_common.outbox import OutboxRelay
from crm_common.shell import Lifetime, Readiness, create_service_app
from crm_common.topology import PIPELINE_CUSTOMER_EVENTS
from pipeline.adapters.mongo import create_indexes
from pipeline.adapters.unit_of_work import MongoUnitOfWork
from pipeline.entrypoints.context import PipelineContext, Services
from pipeline.entrypoints.documents import quote_document_route
from pipeline.entrypoints.http import export_route, xlsx_routes
from pipeline.entrypoints.messages import InvalidEvent, customer_command
from pipeline.entrypoints.schema import schema
from pipeline.service_layer.customer_events import handle_customer_event
from pipeline.service_layer.services import seed_default_pipeline
from pipeline.service_layer.unit_of_work import UnitOfWork
from pipeline.settings import Settings

log = logging.getLogger(__name__)

CUSTOMER_EVENT_KEYS = PIPELINE_CUSTOMER_EVENTS.routing_keys
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def _customer_event_handler(uow: UnitOfWork) -> EventHandler:
    async def handle(event: CloudEvent) -> None:
        try:
            command = customer_command(event)
        except InvalidEvent as exc:
            raise PoisonMessage(str(exc)) from exc
        if command is not None:
            await handle_customer_event(command, uow)

    return handle


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    async def open_services(lifetime: Lifetime) -> Services:
        mongo = lifetime.mongo(settings.mongodb_url)
        db = mongo[settings.database]
        await create_indexes(db)
        uow = MongoUnitOfWork.of(db)
        await seed_default_pipeline(uow.pipelines)
        connection = await lifetime.amqp(settings.amqp_url)
        relay: OutboxRelay | None = None
        if settings.relay_enabled:
            relay = OutboxRelay(
                uow.opportunities.collection,
                lifetime.publisher(connection, settings.instance),
                poll_interval=settings.relay_poll_interval,
                batch_size=settings.relay_batch_size,
                max_backoff=settings.relay_max_backoff,
            )
        # The relay's fast path: each write hands it the document's pending events, so no
        # sweep per write; its periodic sweep covers what a crash or another process left.
        uow.opportunities.listen(relay)
        quote_relay: OutboxRelay | None = None
        if settings.relay_enabled:
            quote_relay = OutboxRelay(
                uow.quotes.collection,
                lifetime.publisher(connection, settings.instance),
                poll_interval=settings.relay_poll_interval,
                batch_size=settings.relay_batch_size,
                max_backoff=settings.relay_max_backoff,
            )
        uow.quotes.listen(quote_relay)
        consumer = EventConsumer(
            connection,
            settings.customer_events_queue,
            CUSTOMER_EVENT_KEYS,
            _customer_event_handler(uow),
        )
        await lifetime.start_consumer(consumer)
        if relay is not None:
            lifetime.start_relay(relay)
        if quote_relay is not None:
            lifetime.start_relay(quote_relay, "quote relay")
        return Services(
            settings=settings,
            readiness=Readiness(mongo, connection, [consumer]),
            db=db,
            uow=uow,
        )

    def context(
        services: Services, identity: Identity | None, request: Any, _: Any
    ) -> PipelineContext:
        assert identity is not None  # HTTP only: IdentityMiddleware verified it
        traceparent = request.headers.get("traceparent", "").strip().lower()
        return PipelineContext(
            services=services,
            identity=identity,
            # Carried into the events only when well-formed (W3C trace context).
            traceparent=traceparent if TRACEPARENT.fullmatch(traceparent) else None,
        )

    def routes(services: Callable[[], Services], verifier: TokenVerifier) -> Sequence[BaseRoute]:
        return [
            export_route(verifier, lambda: services().uow),
            *xlsx_routes(verifier, lambda: services().uow),
            quote_document_route(verifier, services),
        ]

    return create_service_app(
        name="crm-pipeline",
        settings=settings,
        schema=schema,
        open=open_services,
        readiness=lambda services: services.readiness,
        context=context,
        routes=routes,
    )
