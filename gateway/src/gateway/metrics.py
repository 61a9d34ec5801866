"""Prometheus metrics of the gateway, served on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
