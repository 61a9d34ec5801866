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
from typing import Any

import aiohttp
import orjson
from yarl import URL

from gateway.metrics import SubgraphMetrics
from gateway.transport.deadline import fetch_timeout
from gateway.transport.keepalive import KeepAliveError, KeepAlivePool

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


class SubgraphTransport:
    """``http://`` subgraphs go through the lean keep-alive pool (keepalive), others (TLS)
    through the aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Mapping[str, str],
        timeout_seconds: float = 30.0,
        idle_seconds: float = 4.0,
    ) -> None:
        self._session = session
        self._urls = dict(urls)
        self._parsed = {name: URL(url) for name, url in self._urls.items()}
        self._timeout = timeout_seconds
        self._metrics = {name: SubgraphMetrics(name) for name in self._urls}
        self._pool = KeepAlivePool(idle_seconds=idle_seconds)
        self._lean = {
            name: self._pool.prepare(url)
            for name, url in self._urls.items()
            if KeepAlivePool.supports(url)
        }

    def close(self) -> None:
        self._pool.close()

    @property
    def urls(self) -> Mapping[str, str]:
        return self._urls

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
        lean = self._lean.get(service)
        try:
            if lean is not None:
                status, content = await self._pool.post(
                    lean[0],
                    lean[1],
                    {**headers, "Content-Type": "application/json", "Accept": _ACCEPT},
                    orjson.dumps(body),
                    fetch_timeout(self._timeout),
                )
            else:
                async with self._session.post(
                    self._parsed[service],
                    data=orjson.dumps(body),
                    headers={**headers, "content-type": "application/json", "accept": _ACCEPT},
                ) as response:
                    content = await response.read()
                    status = response.status
            payload = self._payload(service, status, content)
            outcome = "ok" if not payload.get("errors") else "graphql_errors"
            return payload
        except (TimeoutError, OSError, KeepAliveError, aiohttp.ClientError) as exc:
            raise SubgraphRequestError(service, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._metrics[service].observe(outcome, time.perf_counter() - started)

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
        """Raises unless the subgraph's ``/health/live`` answers 200."""
        url = self._parsed[service].with_path("/health/live").with_query(None)
        async with self._session.get(url) as response:
            response.raise_for_status()


def forwarded_headers(request_headers: Mapping[str, str]) -> dict[str, str]:
    return {name: request_headers[name] for name in FORWARDED_HEADERS if name in request_headers}
