"""The composition root of the gateway process.

``create_app`` loads the supergraph (a broken one stops the process before it serves);
the lifespan opens the HTTP client to the subgraphs and closes it on shutdown. Handlers reach
the engine through the lifespan state (``request.state.runtime``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from crm_common.identity import TokenVerifier
from crm_common.web import IdentityMiddleware, health_routes, metrics_route
from gateway.engine import GatewayEngine, RequestError
from gateway.graphql_http import (
    read_graphql_request,
    request_error_status,
    response_media_type,
)
from gateway.metrics import REQUEST_SECONDS, REQUESTS
from gateway.settings import Settings
from gateway.subscriptions import graphql_ws_endpoint
from gateway.supergraph import Supergraph, load_supergraph_file
from gateway.transport import SubgraphTransport, forwarded_headers
from gateway.transport.http import new_session

log = logging.getLogger(__name__)

QUERY_PLAN_HEADER = "x-crm-query-plan"


@dataclass(frozen=True, slots=True)
class Runtime:
    """What lives as long as the process: the engine and its HTTP client."""

    settings: Settings
    supergraph: Supergraph
    engine: GatewayEngine


class _Slot:
    """Where the readiness checks find the runtime (they are built before the lifespan)."""

    runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("not started")
        return self.runtime


def _runtime(request: Request) -> Runtime:
    runtime = request.state.runtime
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the gateway runtime is not started")
    return runtime


def load_configured_supergraph(settings: Settings) -> Supergraph:
    supergraph = load_supergraph_file(settings.supergraph_path)
    try:
        return supergraph.with_subgraph_urls(settings.subgraph_urls)
    except KeyError as exc:
        raise ValueError(
            f"GATEWAY_SUBGRAPH_URLS names {exc.args[0]!r}, which is no subgraph of "
            f"{settings.supergraph_path} (subgraphs: {', '.join(supergraph.graphs)})"
        ) from exc


def _json(body: dict[str, Any], status: int, media_type: str, **headers: str) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


async def graphql_endpoint(request: Request) -> Response:
    runtime = _runtime(request)
    engine = runtime.engine
    media_type = response_media_type(request.headers.get("accept"))
    started = time.perf_counter()
    kind = "unknown"
    outcome = "request_error"
    try:
        graphql_request = await read_graphql_request(request)
        prepared = engine.prepare(graphql_request.query, graphql_request.operation_name)
        kind = prepared.kind
        if request.method == "GET" and kind != "query":
            # GET must be safe: a mutation over GET could be triggered by a mere link.
            body = {
                "errors": [
                    {
                        "message": f"a {kind} cannot be sent with GET: use POST",
                        "extensions": {"code": "BAD_REQUEST"},
                    }
                ]
            }
            return _json(body, 405, media_type, Allow="POST")
        explain = runtime.settings.expose_query_plans and (
            request.headers.get(QUERY_PLAN_HEADER, "").lower() == "true"
        )
        body = await engine.execute(
            prepared,
            graphql_request.variables,
            forwarded_headers(request.headers),
            explain=explain,
        )
        outcome = "errors" if body.get("errors") else "ok"
        return _json(body, 200, media_type)
    except RequestError as exc:
        return _json({"errors": exc.errors}, request_error_status(exc, media_type), media_type)
    finally:
        REQUESTS.labels(kind, outcome).inc()
        REQUEST_SECONDS.labels(kind).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    supergraph = load_configured_supergraph(settings)
    slot = _Slot()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with new_session(settings.subgraph_timeout_seconds) as session:
            transport = SubgraphTransport(
                session,
                {name: graph.url for name, graph in supergraph.graphs.items()},
                settings.subgraph_timeout_seconds,
            )
            engine = GatewayEngine(
                supergraph,
                transport,
                plan_cache_size=settings.plan_cache_size,
                document_cache_size=settings.document_cache_size,
            )
            slot.runtime = Runtime(settings, supergraph, engine)
            log.info(
                "gateway started",
                extra={
                    "supergraph": str(settings.supergraph_path),
                    "subgraphs": dict(transport.urls),
                },
            )
            try:
                yield {"runtime": slot.runtime}
            finally:
                slot.runtime = None
                transport.close()

    async def health(_: Request) -> Response:
        # The supergraph is loaded before the app exists; serving means it is loaded.
        return JSONResponse({"status": "ok", "subgraphs": sorted(supergraph.graphs)})

    def subgraph_check(name: str) -> Any:
        async def check() -> None:
            await slot.get().engine.transport.check_live(name)

        return check

    def engine_of(_: WebSocket) -> GatewayEngine:
        return slot.get().engine

    checks = {f"subgraph:{name}": subgraph_check(name) for name in supergraph.graphs}
    verifier = TokenVerifier(settings)
    return Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_ws_endpoint(engine_of, verifier)),
            Route("/health", health),
            *health_routes(checks),
            metrics_route,
        ],
        middleware=[Middleware(IdentityMiddleware, verifier=verifier, protected_prefix="/graphql")],
        lifespan=lifespan,
    )
