"""HTTP to the subgraphs: one shared ``aiohttp.ClientSession`` (keep-alive pools per host),
GraphQL over HTTP POST, bodies encoded and decoded with orjson.

aiohttp rather than httpx on this path: profiling showed httpx's per-request overhead was
most of the gateway's CPU time for a one-fetch query.

The client's ``Authorization`` header is forwarded unchanged: subgraphs verify the token
again rather than trusting the network (DESIGN.md, Identity).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from gateway.metrics import SubgraphMetrics
from gateway.transport.deadline import fetch_timeout
from gateway.transport.keepalive import KeepAliveError, KeepAlivePool
from gateway.transport.replicas import Rotation, split_urls

# Headers worth passing on to subgraphs besides the identity: trace context and request ids.
# idempotency-key: the subgraph that runs a mutation runs it once per key (crm_common.idempotency).
FORWARDED_HEADERS = (
    "authorization",
    "traceparent",
    "tracestate",
    "x-request-id",
    "idempotency-key",
)
_ACCEPT = "application/graphql-response+json, application/json"


class SubgraphRequestError(Exception):
    """The subgraph gave no GraphQL response (unreachable, timeout, non-GraphQL reply)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"request to subgraph '{service}' failed: {reason}")
        self.service = service
        self.reason = reason


def new_session(
    timeout_seconds: float = 30.0, max_connections: int = 200, ca_file: str | None = None
) -> aiohttp.ClientSession:
    """The session a transport uses (``https://`` subgraphs, health checks): close it when
    done. ``ca_file``: PEM certificates trusted for ``https://`` subgraphs besides the
    system's (a private CA, or a self-signed certificate in development)."""
    tls = ssl.create_default_context()
    if ca_file:
        tls.load_verify_locations(cafile=ca_file)
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds, connect=5.0),
        connector=aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300, ssl=tls),
        json_serialize=lambda value: orjson.dumps(value).decode(),
        skip_auto_headers=("User-Agent",),
    )


@dataclass(frozen=True, slots=True)
class Replica:
    """One URL of a subgraph, prepared for the path it takes."""

    url: URL
    lean: tuple[tuple[str, int], bytes] | None  # the keep-alive pool's (host, request head)


class SubgraphTransport:
    """``http://`` subgraphs go through the lean keep-alive pool (keepalive), others (TLS)
    through the aiohttp session. A subgraph URL setting may name several replicas
    (``transport.replicas``): requests go round-robin and skip a replica that refuses."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Mapping[str, str],
        timeout_seconds: float = 30.0,
        idle_seconds: float = 4.0,
    ) -> None:
        self._session = session
        self._urls = dict(urls)
        self._timeout = timeout_seconds
        self._metrics = {name: SubgraphMetrics(name) for name in self._urls}
        self._pool = KeepAlivePool(idle_seconds=idle_seconds)
        self._replicas = {
            name: Rotation([self._replica(url) for url in split_urls(value)])
            for name, value in self._urls.items()
        }

    def _replica(self, url: str) -> Replica:
        lean = self._pool.prepare(url) if KeepAlivePool.supports(url) else None
        return Replica(URL(url), lean)

    def close(self) -> None:
        self._pool.close()

    @property
    def urls(self) -> Mapping[str, str]:
        """Subgraph name -> its URL setting (several replicas' URLs separated by spaces)."""
        return self._urls

    def url_for(self, service: str) -> str:
        """One replica's URL (the next in turn), for a connection of its own (subscriptions)."""
        return str(self._replicas[service].order()[0][1].url)

    async def fetch(
        self,
        service: str,
        query: str,
        variables: Mapping[str, Any],
        operation_name: str | None,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """POST one operation; returns the GraphQL response (``data`` and/or ``errors``)."""
        body: dict[str, Any] = {"query": query, "variables": variables}
        if operation_name:
            body["operationName"] = operation_name
        started = time.perf_counter()
        outcome = "error"
        data = orjson.dumps(body)
        rotation = self._replicas[service]
        try:
            for attempt, (index, replica) in enumerate(order := rotation.order(), start=1):
                try:
                    status, content = await self._post(replica, headers, data)
                except (ConnectionRefusedError, aiohttp.ClientConnectorError):
                    # Nothing was sent: the next replica may take it (never a double write).
                    rotation.down(index)
                    if attempt == len(order):
                        raise
                    continue
                rotation.up(index)
                break
            payload = self._payload(service, status, content)
            outcome = "ok" if not payload.get("errors") else "graphql_errors"
            return payload
        except (TimeoutError, OSError, KeepAliveError, aiohttp.ClientError) as exc:
            raise SubgraphRequestError(service, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._metrics[service].observe(outcome, time.perf_counter() - started)

    async def _post(
        self, replica: Replica, headers: Mapping[str, str], data: bytes
    ) -> tuple[int, bytes]:
        if replica.lean is not None:
            return await self._pool.post(
                replica.lean[0],
                replica.lean[1],
                {**headers, "Content-Type": "application/json", "Accept": _ACCEPT},
                data,
                fetch_timeout(self._timeout),
            )
        async with self._session.post(
            replica.url,
            data=data,
            headers={**headers, "content-type": "application/json", "accept": _ACCEPT},
        ) as response:
            return response.status, await response.read()

    @staticmethod
    def _payload(service: str, status: int, content: bytes) -> dict[str, Any]:
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError:
            payload = None
        # A GraphQL response may come with a 4xx/5xx status (graphql-response+json); only
        # a body that is no GraphQL response at all is a transport failure.
        if not isinstance(payload, dict) or not ({"data", "errors"} & payload.keys()):
            raise SubgraphRequestError(service, f"HTTP {status} without a GraphQL response")
        return payload

    async def check_live(self, service: str) -> None:
        """Raises unless ``/health/live`` of one of the subgraph's replicas answers 200."""
        failure: Exception | None = None
        for _, replica in self._replicas[service].order():
            url = replica.url.with_path("/health/live").with_query(None)
            try:
                async with self._session.get(url) as response:
                    response.raise_for_status()
                    return
            except (OSError, aiohttp.ClientError) as exc:
                failure = exc
        assert failure is not None
        raise failure


def forwarded_headers(request_headers: Mapping[str, str]) -> dict[str, str]:
    return {name: request_headers[name] for name in FORWARDED_HEADERS if name in request_headers}
