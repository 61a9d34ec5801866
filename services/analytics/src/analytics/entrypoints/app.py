"""The analytics API process: Starlette app with the GraphQL subgraph, health and metrics.

Composition root of ``analytics-api``. The lifespan opens MongoDB and RabbitMQ and closes them;
``/graphql`` sits behind ``IdentityMiddleware``; ``/health/ready`` checks both connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from analytics.adapters.mongo import MongoFunnelReadModel, ensure_indexes
from analytics.entrypoints.context import Context, Resources, identity_of, resources_of
from analytics.entrypoints.schema import schema
from analytics.settings import Settings
from crm_common import amqp
from crm_common.identity import TokenVerifier
from crm_common.mongo import connect_mongo, ping
from crm_common.web import IdentityMiddleware, health_routes, metrics_route


class AnalyticsGraphQL(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(identity=identity_of(request), resources=resources_of(request))


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
            try:
                resources = Resources(
                    settings=settings,
                    mongo=mongo,
                    amqp=connection,
                    funnel_read_model=MongoFunnelReadModel(db),
                )
                yield {"resources": resources}
            finally:
                resources = None
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

    ide: Literal["graphiql"] | None = None if settings.environment == "production" else "graphiql"
    graphql = AnalyticsGraphQL(schema, graphql_ide=ide)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *health_routes({"mongo": mongo_ready, "amqp": amqp_ready}),
            metrics_route,
        ],
        middleware=[
            Middleware(
                IdentityMiddleware,
                verifier=TokenVerifier(settings),
                protected_prefix="/graphql",
            )
        ],
        lifespan=lifespan,
    )
