"""The process shell every subgraph API shares: one Starlette app, built in one function.

A service declares only what is its own:

- ``open(lifetime)``: opens its adapters and returns its runtime (a plain object). Each client,
  relay, consumer or background task is registered on the ``Lifetime``, which closes them in
  reverse order at shutdown, each within a bounded time (one hung client never blocks the rest);
- ``readiness(runtime)``: the MongoDB client, the AMQP connection and the consumers that
  ``/health/ready`` checks;
- ``context(runtime, identity, request, response)``: the per-request GraphQL context;
- ``routes(runtime_getter, verifier)``: any plain HTTP routes beside ``/graphql``.

The shell adds the rest the same way for every service: ``/graphql`` (HTTP, and WebSocket with
graphql-transport-ws when ``subscriptions``) behind ``IdentityMiddleware``, GraphiQL outside
production, ``/health/live``, ``/health/ready``, ``/metrics``, and ``CancelOnDisconnect``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from aio_pika.abc import AbstractRobustConnection
from cross_web import HTTPException
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.types.unset import UNSET, UnsetType

from crm_common import amqp, mongo
from crm_common.amqp import EventConsumer, EventPublisher
from crm_common.disconnect import CancelOnDisconnect
from crm_common.errors import Unauthenticated
from crm_common.idempotency import IdempotencyMiddleware, MongoKeys
from crm_common.identity import Identity, TokenVerifier
from crm_common.outbox import OutboxRelay
from crm_common.settings import CommonSettings
from crm_common.token_cache import CachedTokenVerifier
from crm_common.web import IdentityMiddleware, ReadinessCheck, health_routes, metrics_route

log = logging.getLogger(__name__)

R = TypeVar("R")
C = TypeVar("C")

#: How long one close may take at shutdown before it is abandoned (and logged).
CLOSE_SECONDS = 5.0
#: How long a consumer may take to finish the deliveries it holds at shutdown.
DRAIN_SECONDS = 10.0


async def bounded(name: str, close: Callable[[], Awaitable[object]], seconds: float) -> None:
    """Run one close within ``seconds``; a failure or a hang is logged, never raised, so that
    the other clients are still closed."""
    try:
        async with asyncio.timeout(seconds):
            await close()
    except Exception as exc:
        log.warning("closing failed", extra={"client": name, "error": repr(exc)})


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class Lifetime:
    """What a process opened, closed in reverse order when its lifespan ends."""

    def __init__(self, stack: AsyncExitStack, app_name: str) -> None:
        self._stack = stack
        self.app_name = app_name

    def on_close(
        self, name: str, close: Callable[[], Awaitable[object]], seconds: float = CLOSE_SECONDS
    ) -> None:
        self._stack.push_async_callback(bounded, name, close, seconds)

    def mongo(self, url: str) -> AsyncMongoClient[dict[str, Any]]:
        client = mongo.connect_mongo(url, self.app_name)
        self.on_close("mongo", client.close)
        return client

    async def amqp(self, url: str) -> AbstractRobustConnection:
        connection = await amqp.connect(url)
        self.on_close("amqp", connection.close)
        return connection

    def publisher(self, connection: AbstractRobustConnection, instance: str) -> EventPublisher:
        publisher = EventPublisher(connection, instance=instance)
        self.on_close("publisher", publisher.close)
        return publisher

    def start_relay(self, relay: OutboxRelay, name: str = "relay") -> OutboxRelay:
        relay.start()
        self.on_close(name, relay.stop)
        return relay

    async def start_consumer(self, consumer: EventConsumer) -> EventConsumer:
        """Start consuming; at shutdown stop taking deliveries, let the ones held finish
        (``DRAIN_SECONDS``), then close the channel."""
        await consumer.start()
        self.on_close("consumer channel", consumer.close)
        self.on_close("consumer", lambda: consumer.stop_consuming(DRAIN_SECONDS), DRAIN_SECONDS + 1)
        return consumer

    def run(self, work: Coroutine[Any, Any, object], name: str) -> asyncio.Task[Any]:
        """A background task of the process, cancelled at shutdown."""
        task = asyncio.create_task(work, name=name)
        self.on_close(name, lambda: _cancel(task))
        return task


@dataclass(frozen=True, slots=True)
class Readiness:
    """What ``/health/ready`` checks: MongoDB answers a ping; the AMQP connection is open and
    connected (not a robust connection in the middle of reconnecting); every consumer is
    consuming."""

    mongo: AsyncMongoClient[dict[str, Any]]
    amqp: AbstractRobustConnection
    consumers: Sequence[EventConsumer] = field(default=())


async def amqp_ready(
    connection: AbstractRobustConnection, consumers: Sequence[EventConsumer]
) -> None:
    if connection.is_closed:
        raise ConnectionError("the AMQP connection is closed")
    if not connection.connected.is_set():
        raise ConnectionError("the AMQP connection is reconnecting")
    for consumer in consumers:
        if not consumer.is_consuming:
            raise ConnectionError("an event consumer is not consuming")


def readiness_checks(readiness: Callable[[], Readiness]) -> Mapping[str, ReadinessCheck]:
    async def mongo_ready() -> None:
        await mongo.ping(readiness().mongo)

    async def amqp_check() -> None:
        current = readiness()
        await amqp_ready(current.amqp, current.consumers)

    return {"mongo": mongo_ready, "amqp": amqp_check}


def graphql_ide(settings: CommonSettings) -> Literal["graphiql"] | None:
    """GraphiQL is served everywhere but in production."""
    return None if settings.environment == "production" else "graphiql"


class _Slot(Generic[R]):
    """Where the routes built before the lifespan find the runtime once it is open."""

    def __init__(self) -> None:
        self.value: R | None = None

    def get(self) -> R:
        if self.value is None:
            raise RuntimeError("not started")
        return self.value


ContextFactory = Callable[[R, Identity | None, Request | WebSocket, Response | WebSocket], C]


class WebSocketContext(Protocol):
    """A context whose identity may come later, from the WebSocket ``connection_init``."""

    identity_or_none: Identity | None
    connection_params: dict[str, Any] | None


class ServiceGraphQL(GraphQL[Any, None]):
    """``/graphql``: the context from the lifespan's runtime and the verified identity; on a
    WebSocket, the bearer token of the ``connection_init`` payload ``{"Authorization": "Bearer
    <jwt>"}`` is verified and the connection refused (close code 4403) without a valid one."""

    def __init__(
        self,
        schema: BaseSchema,
        *,
        context: ContextFactory[Any, Any],
        verifier: TokenVerifier,
        ide: Literal["graphiql"] | None,
    ) -> None:
        super().__init__(schema, graphql_ide=ide)
        self._context = context
        self._verifier = verifier

    def parse_json(self, data: str | bytes) -> Any:
        """A request body (or ``variables`` of a GET) that is JSON but not an object (``null``,
        a string, a list) is the client's mistake: 400, as for a body that is not JSON."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict):
            raise HTTPException(400, "the body must be a JSON object")
        return parsed

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Any:
        state = request.scope.get("state") or {}
        runtime = state.get("runtime")
        if runtime is None:
            raise RuntimeError("the app's lifespan did not run: no runtime in the request state")
        identity = state.get("identity")
        if not isinstance(identity, Identity):
            if request.scope["type"] != "websocket":
                raise Unauthenticated("missing identity")  # IdentityMiddleware guards /graphql
            identity = None
        return self._context(runtime, identity, request, response)

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        ws: WebSocketContext = context
        params = ws.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            ws.identity_or_none = await self._verifier.averify_header(
                header if isinstance(header, str) else None
            )
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        unset: UnsetType = UNSET
        return unset


RoutesFactory = Callable[[Callable[[], R], TokenVerifier], Sequence[BaseRoute]]


def create_service_app(
    *,
    name: str,
    settings: CommonSettings,
    schema: BaseSchema,
    open: Callable[[Lifetime], Awaitable[R]],
    readiness: Callable[[R], Readiness],
    context: ContextFactory[R, C],
    routes: RoutesFactory[R] | None = None,
    subscriptions: bool = False,
) -> Starlette:
    """The Starlette app of one subgraph process (see the module's documentation)."""
    slot: _Slot[R] = _Slot()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            runtime = await open(Lifetime(stack, name))
            slot.value = runtime
            log.info("service started", extra={"service": name})
            try:
                yield {"runtime": runtime}
            finally:
                slot.value = None

    verifier = CachedTokenVerifier(settings)  # the one verifier, as in the gateway
    graphql = ServiceGraphQL(schema, context=context, verifier=verifier, ide=graphql_ide(settings))
    graphql_routes: list[BaseRoute] = [Route("/graphql", graphql, methods=["GET", "POST"])]
    if subscriptions:
        graphql_routes.append(WebSocketRoute("/graphql", graphql))
    return Starlette(
        routes=[
            *graphql_routes,
            *(routes(slot.get, verifier) if routes is not None else ()),
            *health_routes(readiness_checks(lambda: readiness(slot.get()))),
            metrics_route,
        ],
        middleware=[
            # A request whose client (the gateway) went away stops being worked on.
            Middleware(CancelOnDisconnect),
            Middleware(IdentityMiddleware, verifier=verifier, protected_prefix="/graphql"),
            # Inside the identity: a retried mutation with an Idempotency-Key writes once.
            Middleware(
                IdempotencyMiddleware,
                collection=MongoKeys(settings.mongodb_url, getattr(settings, "database", name)),
            ),
        ],
        lifespan=lifespan,
    )
