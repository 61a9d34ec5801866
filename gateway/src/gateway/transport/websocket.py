"""Subscriptions to subgraphs over graphql-transport-ws (the protocol of ``graphql-ws``).

One WebSocket per client subscription: ``connection_init`` with the client's own payload
(its ``Authorization``: subgraphs verify the identity again), ``subscribe``, then every
``next`` is yielded until ``complete``; an ``error`` message is raised. Closing the
generator completes the subscription and closes the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from gateway.transport.http import SubgraphRequestError

PROTOCOL = "graphql-transport-ws"
ACK_TIMEOUT_SECONDS = 10.0


class SubgraphSubscriptionError(Exception):
    """The subgraph answered ``subscribe`` with an ``error`` message (GraphQL errors)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message", "subscription error") if errors else "error")
        self.errors = errors


def websocket_url(http_url: str) -> str:
    if http_url.startswith("https://"):
        return "wss://" + http_url.removeprefix("https://")
    if http_url.startswith("http://"):
        return "ws://" + http_url.removeprefix("http://")
    return http_url


async def _send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(orjson.dumps(message).decode())


async def _handshake(socket: ClientConnection, init_payload: Mapping[str, Any]) -> None:
    await _send(socket, {"type": "connection_init", "payload": dict(init_payload)})
    async with asyncio.timeout(ACK_TIMEOUT_SECONDS):
        while True:
            message = orjson.loads(await socket.recv())
            kind = message.get("type")
            if kind == "connection_ack":
                return
            if kind == "ping":
                await _send(socket, {"type": "pong"})


async def subscribe(
    service: str,
    url: str,
    query: str,
    variables: Mapping[str, Any],
    operation_name: str | None,
    init_payload: Mapping[str, Any],
) -> AsyncIterator[dict[str, Any]]:
    """Yield the payload of every ``next`` message (a GraphQL response)."""
    payload: dict[str, Any] = {"query": query, "variables": dict(variables)}
    if operation_name:
        payload["operationName"] = operation_name
    try:
        async with websockets.connect(
            websocket_url(url),
            subprotocols=[Subprotocol(PROTOCOL)],
            open_timeout=10,
        ) as socket:
            await _handshake(socket, init_payload)
            await _send(socket, {"id": "1", "type": "subscribe", "payload": payload})
            completed = False
            try:
                async for raw in socket:
                    message = orjson.loads(raw)
                    kind = message.get("type")
                    if kind == "next":
                        yield message.get("payload") or {}
                    elif kind == "error":
                        completed = True
                        errors = message.get("payload")
                        raise SubgraphSubscriptionError(errors if isinstance(errors, list) else [])
                    elif kind == "complete":
                        completed = True
                        return
                    elif kind == "ping":
                        await _send(socket, {"type": "pong"})
                # The socket closed without `complete`.
                raise SubgraphRequestError(
                    service, f"subscription socket closed ({socket.close_code})"
                )
            finally:
                if not completed and socket.close_code is None:
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await _send(socket, {"id": "1", "type": "complete"})
    except websockets.InvalidStatus as exc:
        raise SubgraphRequestError(service, f"WebSocket refused: {exc}") from exc
    except websockets.ConnectionClosedError as exc:
        raise SubgraphRequestError(service, f"subscription socket closed: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        raise SubgraphRequestError(service, f"{type(exc).__name__}: {exc}") from exc
