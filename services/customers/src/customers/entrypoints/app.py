"""The composition root of the customers API process: its adapters and its schema; the process
shell (lifespan, readiness, ``/graphql``, health, metrics) is ``crm_common.shell``'s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from crm_common.amqp import EventConsumer
from crm_common.identity import Identity, TokenVerifier
from crm_common.outbox import OutboxRelay
from crm_common.shell import Lifetime, Readiness, create_service_app
from customers.adapters.audit_log import AuditMover
from customers.adapters.audit_repository import MongoAuditRepository
from customers.adapters.interaction_repository import MongoInteractionRepository
from customers.adapters.mongo_collections import (
    AUDIT,
    INTERACTIONS,
    TASKS,
    TRANSFERS,
    create_indexes,
    customers_collection,
)
from customers.adapters.mongo_repository import MongoCustomerRepository
from customers.adapters.operations import (
    OPERATIONS,
    MongoOperationLog,
    MongoTransferLog,
    create_operation_indexes,
)
from customers.adapters.task_repository import MongoTaskRepository
from customers.entrypoints.context import Context, build_context
from customers.entrypoints.http import export_route, import_route, xlsx_routes
from customers.entrypoints.recovery import run_recovery
from customers.entrypoints.schema import schema
from customers.entrypoints.worker import PIPELINE_EVENT_KEYS, pipeline_event_handler
from customers.service_layer.tasks import announce_due_tasks
from customers.settings import Settings

log = logging.getLogger(__name__)


async def announce_due_tasks_forever(tasks: MongoTaskRepository, interval: float) -> None:
    """Every ``interval`` seconds, the open follow-ups that came due are announced (their
    outbox; the task relay publishes). A failed pass is logged and the next one retries."""
    while True:
        try:
            announced = await announce_due_tasks(tasks)
            if announced:
                log.info("due tasks announced", extra={"tasks": announced})
        except Exception:
            log.exception("announcing due tasks failed; retrying")
        await asyncio.sleep(interval)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The clients and adapters that live as long as the process."""

    settings: Settings
    readiness: Readiness
    repository: MongoCustomerRepository
    interactions: MongoInteractionRepository
    audit: MongoAuditRepository
    transfers: MongoTransferLog
    operations: MongoOperationLog
    tasks: MongoTaskRepository


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    async def open_runtime(lifetime: Lifetime) -> Runtime:
        client = lifetime.mongo(settings.mongodb_url)
        connection = await lifetime.amqp(settings.amqp_url)
        publisher = lifetime.publisher(connection, settings.instance)
        database = client[settings.database]
        collection = customers_collection(database)
        await create_indexes(database)
        await create_operation_indexes(database)

        def relay_of(documents: Any) -> OutboxRelay:
            return OutboxRelay(
                documents,
                publisher,
                poll_interval=settings.relay_poll_interval,
                batch_size=settings.relay_batch_size,
                max_backoff=settings.relay_max_backoff,
            )

        relay, transfer_relay = relay_of(collection), relay_of(database[TRANSFERS])
        task_relay = relay_of(database[TASKS])
        task_repository = MongoTaskRepository(database[TASKS], task_relay)
        await task_repository.create_indexes()
        mover = AuditMover(collection, database[AUDIT])
        repository = MongoCustomerRepository(
            collection, outbox_listener=relay, audit=mover, wake_relay=relay.wake
        )
        interactions = MongoInteractionRepository(database[INTERACTIONS])
        transfers = MongoTransferLog(database[TRANSFERS], transfer_relay)
        operation_log = MongoOperationLog(database[OPERATIONS])
        backfilled = await repository.backfill_search_fields()
        if backfilled:
            log.info("search fields backfilled", extra={"documents": backfilled})
        lifetime.start_relay(relay)
        lifetime.start_relay(transfer_relay, "transfer relay")
        lifetime.start_relay(task_relay, "task relay")
        lifetime.run(
            announce_due_tasks_forever(task_repository, settings.task_due_interval),
            "customers-task-due",
        )
        # Audit entries and merges/transfers a crash left unfinished (first pass at once).
        lifetime.run(
            run_recovery(
                mover,
                operation_log,
                repository,
                interactions,
                transfers,
                settings.recovery_interval,
            ),
            "customers-recovery",
        )
        consumers: list[EventConsumer] = []
        if settings.consumer_enabled:
            handler = pipeline_event_handler(repository, interactions)
            consumer = EventConsumer(
                connection, settings.consumer_queue, PIPELINE_EVENT_KEYS, handler
            )
            consumers.append(await lifetime.start_consumer(consumer))
        return Runtime(
            settings,
            Readiness(client, connection, consumers),
            repository,
            interactions,
            MongoAuditRepository(database[AUDIT], pending=mover),
            transfers,
            operation_log,
            task_repository,
        )

    def context(
        runtime: Runtime, identity: Identity | None, request: Any, response: Any
    ) -> Context:
        assert identity is not None  # HTTP only: IdentityMiddleware verified it
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
            tasks_repository=runtime.tasks,
        )

    def routes(runtime: Callable[[], Runtime], verifier: TokenVerifier) -> Sequence[BaseRoute]:
        def repository() -> MongoCustomerRepository:
            return runtime().repository

        return [
            export_route(verifier, repository),
            import_route(verifier, repository, settings),
            *xlsx_routes(verifier, repository, settings),
        ]

    return create_service_app(
        name="crm-customers",
        settings=settings,
        schema=schema,
        open=open_runtime,
        readiness=lambda runtime: runtime.readiness,
        context=context,
        routes=routes,
    )
