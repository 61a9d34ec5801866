"""The client side of subscriptions: graphql-transport-ws on ``/graphql``.

The connection is authenticated once, by the bearer token in the ``connection_init``
payload (``{"Authorization": "Bearer ..."}``): an invalid or missing one closes with 4403
(Forbidden), a ``subscribe`` before the acknowledgement with 4401 (Unauthorized), as the
protocol says. Each ``subscribe`` runs as its own task: a subscription is relayed from its
owning subgraph (``next``/``error``/``complete``); a query or mutation answers with one
``next`` and ``complete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from crm_common.errors import Unauthenticated
from crm_common.identity import TokenVerifier
from gateway.engine import GatewayEngine, RequestError
from gateway.transport.http import SubgraphRequestError
from gateway.transport.websocket import PROTOCOL, SubgraphSubscriptionError

log = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 10.0


class _Connection:
    def __init__(self, socket: WebSocket, engine: GatewayEngine) -> None:
        self.socket = socket
        self.engine = engine
        self.init_payload: dict[str, Any] = {}
        self.headers: dict[str, str] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.socket.application_state == WebSocketState.CONNECTED:
                await self.socket.send_text(orjson.dumps(message).decode())

    async def close(self, code: int, reason: str) -> None:
        if self.socket.application_state == WebSocketState.CONNECTED:
            await self.socket.close(code, reason)

    async def run_operation(self, id_: str, payload: Mapping[str, Any]) -> None:
        try:
            query = payload.get("query")
            if not isinstance(query, str):
                raise RequestError([{"message": "the subscribe payload has no query"}])
            variables = payload.get("variables") or {}
            operation_name = payload.get("operationName") or None
            prepared = self.engine.prepare(query, operation_name)
            if prepared.kind == "subscription":
                async for response in self.engine.subscribe(
                    prepared, variables, self.init_payload, self.headers
                ):
                    await self.send({"id": id_, "type": "next", "payload": response})
            else:
                response = await self.engine.execute(prepared, variables, self.headers)
                await self.send({"id": id_, "type": "next", "payload": response})
            await self.send({"id": id_, "type": "complete"})
        except RequestError as exc:
            await self.send({"id": id_, "type": "error", "payload": exc.errors})
        except SubgraphSubscriptionError as exc:
            await self.send({"id": id_, "type": "error", "payload": exc.errors})
        except SubgraphRequestError as exc:
            error = {
                "message": str(exc),
                "extensions": {"code": "SUBREQUEST_HTTP_ERROR", "service": exc.service},
            }
            await self.send({"id": id_, "type": "error", "payload": [error]})
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: tell the client, keep the connection
            log.exception("subscription failed", extra={"id": id_})
            await self.send(
                {
                    "id": id_,
                    "type": "error",
                    "payload": [{"message": "internal error", "extensions": {"code": "INTERNAL"}}],
                }
            )
        finally:
            self.tasks.pop(id_, None)


async def _receive(socket: WebSocket) -> dict[str, Any] | None:
    """The next message, or None if it is no JSON object with a string ``type``."""
    text = await socket.receive_text()
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    return message


def _authorization(payload: Mapping[str, Any]) -> str | None:
    for name in ("Authorization", "authorization"):
        value = payload.get(name)
        if isinstance(value, str):
            return value
    headers = payload.get("headers")
    if isinstance(headers, dict):
        return _authorization(headers)
    return None


def graphql_ws_endpoint(
    engine_of: Callable[[WebSocket], GatewayEngine], verifier: TokenVerifier
) -> Callable[[WebSocket], Any]:
    async def endpoint(socket: WebSocket) -> None:
        if PROTOCOL not in socket.scope.get("subprotocols", []):
            await socket.accept()
            await socket.close(4406, "Subprotocol not acceptable")
            return
        await socket.accept(subprotocol=PROTOCOL)
        connection = _Connection(socket, engine_of(socket))
        try:
            await _serve(connection, verifier)
        except WebSocketDisconnect:
            pass
        finally:
            for task in list(connection.tasks.values()):
                task.cancel()
            for task in list(connection.tasks.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    return endpoint


async def _serve(connection: _Connection, verifier: TokenVerifier) -> None:
    socket = connection.socket
    try:
        async with asyncio.timeout(INIT_TIMEOUT_SECONDS):
            first = await _receive(socket)
    except TimeoutError:
        await connection.close(4408, "Connection initialisation timeout")
        return
    if first is None:
        await connection.close(4400, "Invalid message")
        return
    if first["type"] == "subscribe":
        await connection.close(4401, "Unauthorized")
        return
    if first["type"] != "connection_init":
        await connection.close(4400, f"Unexpected {first['type']} before connection_init")
        return
    payload = first.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    authorization = _authorization(payload)
    try:
        await verifier.averify_header(authorization)
    except Unauthenticated:
        await connection.close(4403, "Forbidden")
        return
    connection.init_payload = payload
    connection.headers = {"authorization": authorization} if authorization else {}
    await connection.send({"type": "connection_ack"})
    while True:
        message = await _receive(socket)
        if message is None:
            await connection.close(4400, "Invalid message")
            return
        kind = message["type"]
        if kind == "ping":
            await connection.send({"type": "pong"})
        elif kind == "pong":
            continue
        elif kind == "connection_init":
            await connection.close(4429, "Too many initialisation requests")
            return
        elif kind == "subscribe":
            id_ = message.get("id")
            payload = message.get("payload")
            if not isinstance(id_, str) or not isinstance(payload, dict):
                await connection.close(4400, "Invalid subscribe message")
                return
            if id_ in connection.tasks:
                await connection.close(4409, f"Subscriber for {id_} already exists")
                return
            connection.tasks[id_] = asyncio.create_task(connection.run_operation(id_, payload))
        elif kind == "complete":
            task = connection.tasks.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            await connection.close(4400, f"Unknown message type {kind}")
            return
