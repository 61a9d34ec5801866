"""Clients to the subgraphs: HTTP for queries and mutations, graphql-transport-ws for
subscriptions."""

from gateway.transport.http import SubgraphRequestError, SubgraphTransport, forwarded_headers
from gateway.transport.websocket import SubgraphSubscriptionError, subscribe

__all__ = [
    "SubgraphRequestError",
    "SubgraphSubscriptionError",
    "SubgraphTransport",
    "forwarded_headers",
    "subscribe",
]
