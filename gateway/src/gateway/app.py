"""The composition root of the gateway process.

``create_app`` loads the supergraph file (a broken one stops the process before it serves).
The lifespan opens the HTTP client to the subgraphs, builds the first generation (runtime.py)
and starts the tasks that keep it current: the registry follower (registry/follower.py) or
the supergraph file watcher, and the usage reporter. Handlers take the current generation
once per request, so a swap never changes the schema under an operation in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from crm_common.disconnect import CancelOnDisconnect
from crm_common.token_cache import CachedTokenVerifier
from crm_common.web import IdentityMiddleware, health_routes, metrics_route
from gateway.access_log import AccessLog
from gateway.console import console_routes
from gateway.documents import document_route
from gateway.engine import GatewayEngine, RequestError
from gateway.explorer import ExplorerMiddleware
from gateway.graphql_http import (
    BodyTooLarge,
    discard_rest_of_body,
    read_graphql_request,
    request_error_status,
    response_media_type,
)
from gateway.heap import settle_heap, tune_collector
from gateway.metrics import REFUSED, REQUEST_SECONDS, REQUESTS, bound, operation_histogram
from gateway.persisted import (
    Manifest,
    PersistedOperations,
    PersistedQueryError,
)
from gateway.registry.follower import follow_registry, watch_supergraph_file
from gateway.registry.usage import UsageRecorder
from gateway.runtime import SupergraphHolder, configured_supergraph
from gateway.settings import Settings
from gateway.subscriptions import graphql_ws_endpoint
from gateway.supergraph import Supergraph
from gateway.telemetry import Tracing
from gateway.transport import forwarded_headers
from gateway.transport.deadline import request_deadline
from gateway.transport.http import new_session

log = logging.getLogger(__name__)

QUERY_PLAN_HEADER = "x-crm-query-plan"
GATEWAY_TIMEOUT = "GATEWAY_TIMEOUT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
# What is read (and thrown away) of a refused body before the 413, so that clients that write
# the whole body first still read the answer; beyond it the connection is simply closed.
DISCARD_BODY_BYTES = 64 * 1024 * 1024
DISCARD_BODY_SECONDS = 10.0


class Services:
    """What lives as long as the process, reached by the handlers through the app state."""

    def __init__(self, settings: Settings, persisted: PersistedOperations) -> None:
        self.settings = settings
        self.persisted = persisted
        self.holder: SupergraphHolder | None = None
        self.usage: UsageRecorder | None = None
        self.tracing = Tracing(settings)
        self.access_log = AccessLog(enabled=settings.access_log)

    @property
    def running(self) -> SupergraphHolder:
        if self.holder is None:
            raise RuntimeError("the gateway is not started")
        return self.holder


def load_configured_supergraph(settings: Settings) -> tuple[Supergraph, str]:
    """The supergraph of ``GATEWAY_SUPERGRAPH_PATH`` and its SDL."""
    from gateway.supergraph import SupergraphError

    try:
        sdl = Path(settings.supergraph_path).read_text()
    except OSError as exc:
        raise SupergraphError(
            f"cannot read the supergraph {settings.supergraph_path}: {exc}"
        ) from exc
    return configured_supergraph(sdl, settings, str(settings.supergraph_path)), sdl


def _json(body: dict[str, Any], status: int, media_type: str, **headers: str) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def _error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _cache_headers(services: Services, method: str, body: dict[str, Any]) -> dict[str, str]:
    """GET queries may be cached (APQ's point); privately, since answers depend on the
    token, and never when they carry errors."""
    if method != "GET":
        return {}
    max_age = services.settings.get_cache_max_age_seconds
    if body.get("errors") or max_age == 0:
        return {"Cache-Control": "no-store"}
    return {"Cache-Control": f"private, max-age={max_age}", "Vary": "Authorization, Accept"}


async def graphql_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    generation = services.running.current  # this request's supergraph, whatever swaps
    engine = generation.engine
    settings = services.settings
    media_type = response_media_type(request.headers.get("accept"))
    started = time.perf_counter()
    kind = "unknown"
    outcome = "request_error"
    operation_name: str | None = None
    status = 200
    try:
        try:
            graphql_request = await read_graphql_request(request, settings.max_body_bytes)
            query = services.persisted.resolve(graphql_request.query, graphql_request.extensions)
        except BodyTooLarge as exc:
            status = 413
            bound(REFUSED, PAYLOAD_TOO_LARGE).inc()
            await discard_rest_of_body(request, DISCARD_BODY_BYTES, DISCARD_BODY_SECONDS)
            # Connection: close: whatever is left of the body is never read.
            return _json(
                _error_body(str(exc), PAYLOAD_TOO_LARGE), 413, media_type, Connection="close"
            )
        except PersistedQueryError as exc:
            status = exc.status
            return _json(_error_body(exc.message, exc.code), exc.status, media_type)
        operation_name = graphql_request.operation_name
        prepared = engine.prepare(query, operation_name, graphql_request.variables)
        kind = prepared.kind
        operation_name = operation_name or (
            prepared.operation.name.value if prepared.operation.name else None
        )
        if request.method == "GET" and kind != "query":
            # GET must be safe: a mutation over GET could be triggered by a mere link.
            status = 405
            body = _error_body(f"a {kind} cannot be sent with GET: use POST", "BAD_REQUEST")
            return _json(body, 405, media_type, Allow="POST")
        explain = settings.expose_query_plans and (
            request.headers.get(QUERY_PLAN_HEADER, "").lower() == "true"
        )
        if services.usage is not None:
            services.usage.record(generation.supergraph, prepared)
        headers = forwarded_headers(request.headers)
        try:
            async with asyncio.timeout(settings.request_timeout_seconds) as scope:
                deadline = request_deadline.set(scope.when())
                try:
                    with services.tracing.request_span(operation_name, kind, headers):
                        body = await engine.execute(
                            prepared, graphql_request.variables, headers, explain=explain
                        )
                finally:
                    request_deadline.reset(deadline)
        except TimeoutError:
            status = 504
            outcome = "timeout"
            message = f"the request took longer than {settings.request_timeout_seconds} s"
            return _json(_error_body(message, GATEWAY_TIMEOUT), 504, media_type)
        outcome = "errors" if body.get("errors") else "ok"
        return _json(body, 200, media_type, **_cache_headers(services, request.method, body))
    except RequestError as exc:
        status = request_error_status(exc, media_type)
        if status == 400 and exc.errors:
            bound(REFUSED, str(exc.errors[0].get("extensions", {}).get("code"))).inc()
        return _json({"errors": exc.errors}, status, media_type)
    finally:
        elapsed = time.perf_counter() - started
        bound(REQUESTS, kind, outcome).inc()
        bound(REQUEST_SECONDS, kind).observe(elapsed)
        operation_histogram(operation_name).observe(elapsed)
        services.access_log.write(request, status, elapsed, kind, operation_name, outcome)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    supergraph, sdl = load_configured_supergraph(settings)
    manifest = (
        Manifest.load(settings.persisted_operations_path)
        if settings.persisted_operations_path
        else None
    )
    services = Services(
        settings,
        PersistedOperations(
            apq_enabled=settings.apq_enabled, cache_size=settings.apq_cache_size, manifest=manifest
        ),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.tracing.start()
        async with new_session(
            settings.subgraph_timeout_seconds, ca_file=settings.subgraph_ca_file
        ) as session:
            holder = SupergraphHolder(settings, session, services.tracing.tracer)
            holder.install(holder.build(supergraph, sdl, f"file:{settings.supergraph_path}"))
            services.holder = holder
            tune_collector()
            settle_heap()
            tasks: list[asyncio.Task[None]] = []
            if settings.registry_on:
                services.usage = UsageRecorder(settings)
                tasks.append(asyncio.create_task(follow_registry(holder, settings, sdl)))
                tasks.append(asyncio.create_task(services.usage.run()))
            else:
                tasks.append(asyncio.create_task(watch_supergraph_file(holder, settings)))
            log.info(
                "gateway started",
                extra={
                    "supergraph": str(settings.supergraph_path),
                    "registry": settings.registry_on,
                    "subgraphs": dict(holder.current.engine.transport.urls),
                },
            )
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                holder.close()
                services.holder = None
                services.tracing.stop()

    async def health(_: Request) -> Response:
        holder = services.holder
        if holder is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        current = holder.current
        body: dict[str, Any] = {
            "status": "ok",
            "subgraphs": sorted(current.supergraph.graphs),
            "supergraph": {
                "source": current.source,
                "sha256": current.sha256,
                "loadedAt": current.loaded_at,
            },
        }
        if holder.registry_status is not None:
            body["registry"] = holder.registry_status
        if holder.last_error:
            # Still serving (the last good supergraph), but say why the newest was refused.
            body["supergraph"]["lastError"] = holder.last_error
            body["supergraph"]["lastErrorAt"] = holder.last_error_at
        return JSONResponse(body)

    async def ready(_: Request) -> Response:
        transport = services.running.current.engine.transport
        names = sorted(transport.urls)

        async def check(name: str) -> str:
            try:
                await asyncio.wait_for(transport.check_live(name), 3.0)
            except Exception as exc:
                return f"down: {type(exc).__name__}: {exc}"[:300]
            return "ok"

        results = dict(zip(names, await asyncio.gather(*(check(n) for n in names)), strict=True))
        healthy = all(v == "ok" for v in results.values())
        return JSONResponse(
            {
                "status": "ok" if healthy else "unavailable",
                "checks": {f"subgraph:{n}": v for n, v in results.items()},
                "subgraphs": {n: {"url": transport.urls[n], "status": results[n]} for n in names},
            },
            status_code=200 if healthy else 503,
        )

    def engine_of(_: WebSocket) -> GatewayEngine:
        return services.running.current.engine

    verifier = CachedTokenVerifier(settings)
    middleware = [Middleware(CancelOnDisconnect)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "accept", "traceparent"],
                allow_credentials=settings.cors_allow_credentials,
                max_age=600,
            )
        )
    if settings.explorer_on:
        middleware.append(
            Middleware(
                ExplorerMiddleware, endpoint="/graphql", assets_dir=settings.explorer_assets_dir
            )
        )
    middleware.append(
        Middleware(IdentityMiddleware, verifier=verifier, protected_prefix="/graphql")
    )
    live = [route for route in health_routes({}) if route.path == "/health/live"]
    app = Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_ws_endpoint(engine_of, verifier)),
            Route("/health", health),
            *live,
            Route("/health/ready", ready),
            metrics_route,
            document_route(lambda: services.running.current.engine.transport.urls),
            # Last: the console's pages and assets answer whatever no route above took.
            *console_routes(settings.console_dir, settings.dev_sign_in_secret),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.services = services
    return app
