"""The analytics API process: Starlette app with the GraphQL subgraph, health and metrics.

Composition root of ``analytics-api``. The lifespan opens MongoDB and RabbitMQ (and the live
feed's queue) and closes them; ``/graphql`` (HTTP) sits behind ``IdentityMiddleware``; the
WebSocket ``/graphql`` (graphql-transport-ws) verifies the bearer token of the
``connection_init`` payload ``{"Authorization": "Bearer <jwt>"}`` and refuses the connection
(close code 4403) without a valid one; ``/health/ready`` checks both connections. At start it
warms the deal cache (``CachedReadModel``) from the pipelines' snapshots in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from analytics.adapters.mongo import (
    CachedReadModel,
    CacheLimits,
    MongoEventStore,
    ensure_indexes,
)
from analytics.entrypoints.context import Context, Resources, identity_of, resources_of
from analytics.entrypoints.live import LiveFeed
from analytics.entrypoints.schema import schema
from analytics.service_layer.services import HistoryCache
from analytics.settings import Settings
from crm_common import amqp
from crm_common.disconnect import CancelOnDisconnect
from crm_common.errors import Unauthenticated
from crm_common.identity import TokenVerifier
from crm_common.mongo import connect_mongo, ping
from crm_common.web import IdentityMiddleware, health_routes, metrics_route

log = logging.getLogger(__name__)


class AnalyticsGraphQL(GraphQL[Context, None]):
    def __init__(self, *args: object, verifier: TokenVerifier, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._verifier = verifier

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(resources=resources_of(request), identity_or_none=identity_of(request))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            context.identity_or_none = self._verifier.verify_header(
                header if isinstance(header, str) else None
            )
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        unset: UnsetType = UNSET
        return unset


def limits(settings: Settings) -> CacheLimits:
    return CacheLimits(
        max_pipelines=settings.cache_max_pipelines,
        max_deals=settings.cache_max_deals,
        snapshots=settings.cache_snapshots,
        snapshot_changes=settings.cache_snapshot_changes,
        snapshot_seconds=settings.cache_snapshot_seconds,
    )


async def warm(read_model: CachedReadModel, pipelines: int) -> None:
    """Load the largest pipelines' deals in the background at start (from their snapshots),
    so that the first reports after a restart do not wait for it; a report that comes first
    waits for its pipeline's load, never for the others."""
    started = time.perf_counter()
    try:
        warmed = await read_model.warm(pipelines)
    except Exception as exc:  # the cache then loads on demand, as without warming
        log.warning("warming the deal cache failed", extra={"error": repr(exc)})
        return
    log.info(
        "deal cache warmed",
        extra={"pipelines": warmed, "seconds": round(time.perf_counter() - started, 2)},
    )


def create_app(settings: Settings) -> Starlette:
    resources: Resources | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Resources]]:
        nonlocal resources
        mongo = connect_mongo(settings.mongodb_url, "analytics-api")
        try:
            db = mongo[settings.database]
            await ensure_indexes(db)
            connection = await amqp.connect(settings.amqp_url)
            live = LiveFeed(connection)
            read_model = CachedReadModel(db, limits(settings))
            warming: asyncio.Task[None] | None = None
            try:
                await live.start()
                resources = Resources(
                    settings=settings,
                    mongo=mongo,
                    amqp=connection,
                    read_model=read_model,
                    events=MongoEventStore(db),
                    history=HistoryCache(),
                    live=live,
                )
                if settings.cache_warm_pipelines > 0:
                    warming = asyncio.create_task(warm(read_model, settings.cache_warm_pipelines))
                yield {"resources": resources}
            finally:
                resources = None
                if warming is not None:
                    warming.cancel()
                    with suppress(asyncio.CancelledError):
                        await warming
                await read_model.close()
                await live.close()
                await connection.close()
        finally:
            await mongo.close()

    def _opened() -> Resources:
        if resources is None:
            raise RuntimeError("not started")
        return resources

    async def mongo_ready() -> None:
        await ping(_opened().mongo)

    async def amqp_ready() -> None:
        connection = _opened().amqp
        if connection.is_closed:
            raise ConnectionError("AMQP connection is closed")
        if not connection.connected.is_set():  # a robust connection that is reconnecting
            raise ConnectionError("AMQP connection is reconnecting")

    verifier = TokenVerifier(settings)
    ide: Literal["graphiql"] | None = None if settings.environment == "production" else "graphiql"
    graphql = AnalyticsGraphQL(schema, graphql_ide=ide, verifier=verifier)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
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
