"""Subscriptions through the gateway: graphql-transport-ws on /graphql, authenticated by the
token in ``connection_init``, relayed from the owning subgraph (``ticker``, Strawberry) over
graphql-transport-ws with the same payload, with the entity join of each event (products)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from gateway_stack import FIXTURES, JWT_SECRET, gateway_process, subgraph_process
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from compose_supergraph import Subgraph, compose, export_sdl
from crm_common.identity import mint_token
from crmstack.ports import free_port
from crmstack.processes import ProcessFailed

PROTOCOL = [Subprotocol("graphql-transport-ws")]


@pytest.fixture(scope="module")
def gateway_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("subscriptions")
    if str(FIXTURES) not in sys.path:
        sys.path.insert(0, str(FIXTURES))
    ports = {"products": free_port(), "ticker": free_port()}
    files = []
    for name in ports:
        path = logs / f"{name}.graphql"
        path.write_text(export_sdl(f"{name}_subgraph"))
        url = f"http://127.0.0.1:{ports[name]}/graphql"
        files.append((Subgraph(name, url, f"{name}_subgraph"), path))
    supergraph = logs / "supergraph.graphql"
    supergraph.write_text(compose(files))
    processes = [
        subgraph_process(name, f"{name}_subgraph", port, logs) for name, port in ports.items()
    ]
    gateway_port = free_port()
    processes.append(
        gateway_process(
            gateway_port, logs, {}, GATEWAY_SUPERGRAPH_PATH=str(supergraph), LOG_LEVEL="WARNING"
        )
    )
    try:
        for process in processes:  # started in parallel, then waited for
            process.start(timeout=None)
        for process in processes:
            try:
                process.wait_ready(30)
            except ProcessFailed as failure:
                raise RuntimeError(f"{failure}\n{process.log_tail(60)}") from failure
        yield f"ws://127.0.0.1:{gateway_port}/graphql"
    finally:
        for process in reversed(processes):
            process.stop()


TOKEN = mint_token(JWT_SECRET, user_id="u1", roles=["service"])


async def _send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def _recv(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 10))
    return message


async def _connected(url: str, token: str = TOKEN) -> ClientConnection:
    socket = await websockets.connect(url, subprotocols=PROTOCOL)
    await _send(
        socket, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    )
    assert await _recv(socket) == {"type": "connection_ack"}
    return socket


async def _until_complete(socket: ClientConnection, id_: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = await _recv(socket)
        assert message.get("id") == id_
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


async def test_events_are_relayed_with_their_entity_joins(gateway_ws: str) -> None:
    socket = await _connected(gateway_ws)
    query = "subscription ($n: Int!) { ticks(count: $n) { seq product { upc name price } } }"
    await _send(
        socket, {"id": "a", "type": "subscribe", "payload": {"query": query, "variables": {"n": 3}}}
    )
    messages = await _until_complete(socket, "a")
    assert [m["type"] for m in messages] == ["next", "next", "next", "complete"], messages
    assert [m["payload"] for m in messages[:3]] == [
        {"data": {"ticks": {"seq": i, "product": {"upc": "p1", "name": "Table", "price": 100}}}}
        for i in range(3)
    ]
    await socket.close()


async def test_the_connection_init_payload_reaches_the_subgraph(gateway_ws: str) -> None:
    socket = await _connected(gateway_ws)
    query = "subscription { ticks(count: 1) { authorization } }"
    await _send(socket, {"id": "1", "type": "subscribe", "payload": {"query": query}})
    first = await _recv(socket)
    assert first["payload"] == {"data": {"ticks": {"authorization": f"Bearer {TOKEN}"}}}
    await socket.close()


async def test_a_missing_or_invalid_token_is_refused_with_4403(gateway_ws: str) -> None:
    for payload in ({}, {"Authorization": "Bearer nonsense"}):
        socket = await websockets.connect(gateway_ws, subprotocols=PROTOCOL)
        await _send(socket, {"type": "connection_init", "payload": payload})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _recv(socket)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


async def test_subscribe_before_the_acknowledgement_is_refused_with_4401(gateway_ws: str) -> None:
    socket = await websockets.connect(gateway_ws, subprotocols=PROTOCOL)
    await _send(
        socket, {"id": "1", "type": "subscribe", "payload": {"query": "subscription { forever }"}}
    )
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await _recv(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_subgraph_errors_and_invalid_operations_become_error_messages(
    gateway_ws: str,
) -> None:
    socket = await _connected(gateway_ws)
    await _send(
        socket, {"id": "bad", "type": "subscribe", "payload": {"query": "subscription { nope }"}}
    )
    error = await _recv(socket)
    assert error["type"] == "error"
    assert error["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    refused = 'subscription { refused(reason: "no") }'
    await _send(socket, {"id": "r", "type": "subscribe", "payload": {"query": refused}})
    messages = await _until_complete(socket, "r")
    # Strawberry reports an exception raised before the first event as a `next` carrying
    # the error, then `complete`: relayed as such.
    assert messages[0]["type"] in ("next", "error")
    payload = messages[0]["payload"]
    errors = payload["errors"] if isinstance(payload, dict) else payload
    assert errors[0]["message"] == "no"
    await socket.close()


async def test_complete_from_the_client_stops_an_endless_subscription(gateway_ws: str) -> None:
    socket = await _connected(gateway_ws)
    await _send(
        socket, {"id": "f", "type": "subscribe", "payload": {"query": "subscription { forever }"}}
    )
    first = await _recv(socket)
    assert first == {"id": "f", "type": "next", "payload": {"data": {"forever": 0}}}
    await _send(socket, {"id": "f", "type": "complete"})
    # The same id may be reused once completed; queries work over the socket too.
    await asyncio.sleep(0.2)
    await _send(socket, {"id": "f", "type": "subscribe", "payload": {"query": "{ tickerStatus }"}})
    while True:
        message = await _recv(socket)
        if message["type"] == "next" and "tickerStatus" in json.dumps(message["payload"]):
            break
    assert message["payload"] == {"data": {"tickerStatus": "running"}}
    assert await _recv(socket) == {"id": "f", "type": "complete"}
    await socket.close()


def test_subscriptions_over_http_are_refused(gateway_ws: str) -> None:
    import httpx

    url = gateway_ws.replace("ws://", "http://")
    response = httpx.post(
        url,
        json={"query": "subscription { forever }"},
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert "errors" in response.json()
    _ = Path
