"""HTTP to the subgraphs: one shared ``httpx.AsyncClient``, GraphQL over HTTP POST.

The client's ``Authorization`` header is forwarded unchanged: subgraphs verify the token
again rather than trusting the network (DESIGN.md, Identity).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from gateway.metrics import SUBGRAPH_REQUEST_SECONDS, SUBGRAPH_REQUESTS

# Headers worth passing on to subgraphs besides the identity: trace context and request ids.
FORWARDED_HEADERS = ("authorization", "traceparent", "tracestate", "x-request-id")


class SubgraphRequestError(Exception):
    """The subgraph gave no GraphQL response (unreachable, timeout, non-GraphQL reply)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"request to subgraph '{service}' failed: {reason}")
        self.service = service
        self.reason = reason


class SubgraphTransport:
    def __init__(self, client: httpx.AsyncClient, urls: Mapping[str, str]) -> None:
        self._client = client
        self._urls = dict(urls)

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
        body: dict[str, Any] = {"query": query, "variables": dict(variables)}
        if operation_name:
            body["operationName"] = operation_name
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._client.post(
                self._urls[service],
                content=orjson.dumps(body),
                headers={
                    **headers,
                    "content-type": "application/json",
                    "accept": "application/graphql-response+json, application/json",
                },
            )
            try:
                payload = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                payload = None
            # A GraphQL response may come with a 4xx/5xx status (graphql-response+json);
            # only a body that is no GraphQL response at all is a transport failure.
            if not isinstance(payload, dict) or not ({"data", "errors"} & payload.keys()):
                raise SubgraphRequestError(
                    service, f"HTTP {response.status_code} without a GraphQL response"
                )
            outcome = "ok" if not payload.get("errors") else "graphql_errors"
            return payload
        except httpx.HTTPError as exc:
            raise SubgraphRequestError(service, f"{type(exc).__name__}: {exc}") from exc
        finally:
            SUBGRAPH_REQUESTS.labels(service, outcome).inc()
            SUBGRAPH_REQUEST_SECONDS.labels(service).observe(time.perf_counter() - started)

    async def check_live(self, service: str) -> None:
        """Raises unless the subgraph's ``/health/live`` answers 200."""
        url = httpx.URL(self._urls[service]).copy_with(path="/health/live", query=None)
        response = await self._client.get(url)
        response.raise_for_status()


def forwarded_headers(request_headers: Mapping[str, str]) -> dict[str, str]:
    return {name: request_headers[name] for name in FORWARDED_HEADERS if name in request_headers}
