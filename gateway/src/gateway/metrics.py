"""Prometheus metrics of the gateway, served on ``/metrics``."""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "crm_gateway_requests_total",
    "GraphQL requests handled by the gateway, by operation type and outcome",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "crm_gateway_request_seconds", "Time to answer a GraphQL request", ["operation"]
)
SUBGRAPH_REQUESTS = Counter(
    "crm_gateway_subgraph_requests_total",
    "Requests sent to subgraphs, by subgraph and outcome",
    ["subgraph", "outcome"],
)
SUBGRAPH_REQUEST_SECONDS = Histogram(
    "crm_gateway_subgraph_request_seconds", "Time of one subgraph request", ["subgraph"]
)
PLAN_CACHE = Counter(
    "crm_gateway_plan_cache_total", "Query plan cache lookups, by result", ["result"]
)
OPERATION_SECONDS = Histogram(
    "crm_gateway_operation_seconds",
    "Time to answer a GraphQL request, by operation name (anonymous: '-')",
    ["operation_name"],
)
REFUSED = Counter(
    "crm_gateway_refused_total",
    "Requests refused before any subgraph was called, by error code",
    ["code"],
)
SUPERGRAPH_SWAPS = Counter(
    "crm_gateway_supergraph_swaps_total", "Supergraphs swapped in while serving"
)
SUPERGRAPH_LOAD_FAILURES = Counter(
    "crm_gateway_supergraph_load_failures_total",
    "New supergraphs that could not be loaded (the last good one kept serving)",
)
SUPERGRAPH_LOAD_ERROR = Gauge(
    "crm_gateway_supergraph_load_error",
    "1 while the latest supergraph offered could not be loaded, else 0",
)

# Pre-bound children of the per-operation histogram, so the hot path skips ``labels()``.
# Operation names come from clients: past ``MAX_OPERATION_NAMES`` they share "other", so a
# client inventing names cannot grow the metrics without bound.
MAX_OPERATION_NAMES = 500
_operation_children: dict[str | None, Any] = {}


def operation_histogram(operation_name: str | None) -> Any:
    child = _operation_children.get(operation_name)
    if child is None:
        if len(_operation_children) >= MAX_OPERATION_NAMES:
            return OPERATION_SECONDS.labels("other")
        child = OPERATION_SECONDS.labels(operation_name or "-")
        _operation_children[operation_name] = child
    return child


class SubgraphMetrics:
    """One subgraph's request counters (per outcome) and duration histogram, bound once: the
    hot path then skips ``labels()``, a lock and a dict lookup per fetch."""

    __slots__ = ("outcomes", "seconds")

    def __init__(self, service: str) -> None:
        self.outcomes = {
            outcome: SUBGRAPH_REQUESTS.labels(service, outcome)
            for outcome in ("ok", "graphql_errors", "error")
        }
        self.seconds = SUBGRAPH_REQUEST_SECONDS.labels(service)

    def observe(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome].inc()
        self.seconds.observe(seconds)


@functools.lru_cache(maxsize=1024)
def bound(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: for label values from a small fixed set
    (request kinds, outcomes, error codes, hit/miss)."""
    return metric.labels(*labels)
