"""Clients to the subgraphs (HTTP; WebSocket subscriptions are not supported yet)."""

from gateway.transport.http import SubgraphRequestError, SubgraphTransport, forwarded_headers

__all__ = ["SubgraphRequestError", "SubgraphTransport", "forwarded_headers"]
