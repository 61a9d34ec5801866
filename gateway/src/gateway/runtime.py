"""The supergraph the gateway serves, swapped atomically while it runs.

A ``Generation`` is everything built from one supergraph: the engine (planner, caches) and
its transport. A request takes ``holder.current`` once when it starts and keeps that
generation to the end, so a swap never changes the schema under an operation in flight; new
requests get the new one. The old generation's connection pool is closed only after the
longest a request may take.

A supergraph that cannot be loaded (bad SDL, unknown subgraph in the URL overrides) leaves
the current generation serving; the reason is kept for ``/health``, logged, and counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass

import aiohttp
from opentelemetry.trace import Tracer

from gateway.engine import GatewayEngine
from gateway.heap import settle_heap
from gateway.limits import OperationLimits
from gateway.metrics import SUPERGRAPH_LOAD_ERROR, SUPERGRAPH_LOAD_FAILURES, SUPERGRAPH_SWAPS
from gateway.settings import Settings
from gateway.supergraph import Supergraph, SupergraphError, load_supergraph
from gateway.telemetry import TracedTransport
from gateway.transport import SubgraphTransport
from gateway.transport.replicas import joined_urls

log = logging.getLogger(__name__)


def supergraph_hash(sdl: str) -> str:
    return hashlib.sha256(sdl.encode()).hexdigest()


def limits_of(settings: Settings) -> OperationLimits:
    return OperationLimits(
        enabled=settings.limits_enabled,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_root_fields=settings.max_root_fields,
        max_directives=settings.max_directives,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_cost,
        default_list_size=settings.default_list_size,
    )


def configured_supergraph(sdl: str, settings: Settings, origin: str) -> Supergraph:
    """The supergraph with ``GATEWAY_SUBGRAPH_URLS`` applied; ``SupergraphError`` or
    ``ValueError`` when it cannot be served."""
    supergraph = load_supergraph(sdl)
    try:
        return supergraph.with_subgraph_urls(
            {name: joined_urls(urls) for name, urls in settings.subgraph_urls.items()}
        )
    except KeyError as exc:
        raise ValueError(
            f"GATEWAY_SUBGRAPH_URLS names {exc.args[0]!r}, which is no subgraph of "
            f"{origin} (subgraphs: {', '.join(supergraph.graphs)})"
        ) from exc


@dataclass(frozen=True, slots=True)
class Generation:
    supergraph: Supergraph
    engine: GatewayEngine
    source: str  # "file:<path>" or "registry:v<version>"
    sha256: str
    loaded_at: float


class SupergraphHolder:
    def __init__(
        self, settings: Settings, session: aiohttp.ClientSession, tracer: Tracer | None = None
    ) -> None:
        self.settings = settings
        self.session = session
        self.tracer = tracer
        # What the registry follower last saw ("ok", or why it cannot read the registry).
        self.registry_status: str | None = None
        self.limits = limits_of(settings)
        self._current: Generation | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    @property
    def current(self) -> Generation:
        if self._current is None:
            raise RuntimeError("no supergraph loaded")
        return self._current

    def build(self, supergraph: Supergraph, sdl: str, source: str) -> Generation:
        urls = {name: graph.url for name, graph in supergraph.graphs.items()}
        timeout = self.settings.subgraph_timeout_seconds
        idle = self.settings.subgraph_idle_seconds
        transport = (
            SubgraphTransport(self.session, urls, timeout, idle)
            if self.tracer is None
            else TracedTransport(self.tracer, self.session, urls, timeout, idle)
        )
        engine = GatewayEngine(
            supergraph,
            transport,
            plan_cache_size=self.settings.plan_cache_size,
            document_cache_size=self.settings.document_cache_size,
            limits=self.limits,
            introspection=self.settings.introspection_on,
        )
        return Generation(supergraph, engine, source, supergraph_hash(sdl), time.time())

    def install(self, generation: Generation) -> None:
        old, self._current = self._current, generation
        self.last_error = None
        self.last_error_at = None
        if old is not None:
            SUPERGRAPH_SWAPS.inc()
            log.info(
                "supergraph swapped",
                extra={"from": old.source, "to": generation.source, "sha256": generation.sha256},
            )
            # Requests that took the old generation may still be running: close its pool
            # only after the longest a request may take.
            grace = self.settings.request_timeout_seconds + 5
            asyncio.get_running_loop().call_later(grace, old.engine.transport.close)

    async def try_swap(self, sdl: str, source: str) -> bool:
        """Serve ``sdl`` from now on, unless it cannot be loaded (then keep the current one).

        The SDL is read in a worker thread, so requests keep flowing while it loads."""
        if self._current is not None and self._current.sha256 == supergraph_hash(sdl):
            return False
        try:
            supergraph = await asyncio.to_thread(configured_supergraph, sdl, self.settings, source)
            generation = self.build(supergraph, sdl, source)
        except (SupergraphError, ValueError) as exc:
            self.fail(source, str(exc))
            return False
        self.install(generation)
        SUPERGRAPH_LOAD_ERROR.set(0)
        settle_heap()  # the old supergraph's objects go; the new one's join the frozen heap
        return True

    def fail(self, source: str, reason: str) -> None:
        SUPERGRAPH_LOAD_FAILURES.inc()
        SUPERGRAPH_LOAD_ERROR.set(1)
        self.last_error = f"{source}: {reason}"[:1000]
        self.last_error_at = time.time()
        log.error(
            "cannot load a new supergraph; the last good one keeps serving",
            extra={"source": source, "reason": reason[:1000]},
        )

    def close(self) -> None:
        if self._current is not None:
            self._current.engine.transport.close()
            self._current = None
