"""Several URLs per subgraph (gateway.transport.replicas): requests go round-robin over the
replicas, a replica that refuses connections is skipped without an error to the client, and
a replica that fails mid-request is not retried elsewhere (a mutation must not run twice)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest

from gateway.transport.http import SubgraphRequestError, SubgraphTransport, new_session
from gateway.transport.replicas import Rotation, split_urls


class Replica:
    """A raw HTTP/1.1 subgraph answering ``{"data": {"replica": <name>}}``; counts requests."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        self.drop_mid_request = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """The replica dies: it stops listening and its open connections close."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                self.requests += 1
                if self.drop_mid_request:
                    break  # the request arrived; the connection dies before any answer
                body = json.dumps({"data": {"replica": self.name}}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._writers.discard(writer)
        writer.close()


@pytest.fixture
async def replicas() -> AsyncIterator[list[Replica]]:
    started = [Replica("a"), Replica("b")]
    for replica in started:
        await replica.start()
    yield started
    for replica in started:
        if replica._server is not None and replica._server.is_serving():
            await replica.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def ask(transport: SubgraphTransport) -> str:
    answer = await transport.fetch("customers", "{ replica }", {}, None, {})
    return str(answer["data"]["replica"])


async def test_requests_go_round_robin_and_skip_a_replica_that_refuses(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    session = new_session()
    transport = SubgraphTransport(session, {"customers": f"{a.url} {b.url}"})
    try:
        answers = [await ask(transport) for _ in range(6)]
        assert sorted(answers) == ["a", "a", "a", "b", "b", "b"]
        await b.stop()  # replica b is gone: connections to it are refused
        answers = [await ask(transport) for _ in range(6)]
        assert answers == ["a"] * 6  # no error reached the client
        await b.start(b.port)  # back: it takes its share again once its pause is over
        await asyncio.sleep(2.1)
        answers = [await ask(transport) for _ in range(4)]
        assert "b" in answers
        assert transport.url_for("customers") in (a.url, b.url)
    finally:
        transport.close()
        await session.close()


async def test_a_request_that_reached_a_replica_is_not_sent_to_another(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    a.drop_mid_request = True
    b.drop_mid_request = True
    session = new_session()
    transport = SubgraphTransport(session, {"customers": [a.url, b.url]})  # type: ignore[dict-item]
    try:
        with pytest.raises(SubgraphRequestError):
            await ask(transport)
        assert a.requests + b.requests == 1  # sent once, failed, not retried elsewhere
    finally:
        transport.close()
        await session.close()


async def test_every_replica_refusing_is_an_error_naming_the_subgraph() -> None:
    session = new_session()
    urls = f"http://127.0.0.1:{free_port()}/graphql http://127.0.0.1:{free_port()}/graphql"
    transport = SubgraphTransport(session, {"customers": urls})
    try:
        with pytest.raises(SubgraphRequestError, match="customers"):
            await ask(transport)
    finally:
        transport.close()
        await session.close()


def test_the_rotation_puts_replicas_found_down_last() -> None:
    now = [0.0]
    rotation = Rotation(["a", "b", "c"], clock=lambda: now[0])
    assert [r for _, r in rotation.order()] == ["a", "b", "c"]
    assert [r for _, r in rotation.order()] == ["b", "c", "a"]
    rotation.down(2, seconds=5)
    assert [r for _, r in rotation.order()] == ["a", "b", "c"]  # c's turn: it goes last
    assert [r for _, r in rotation.order()] == ["a", "b", "c"]
    now[0] = 6.0
    assert [r for _, r in rotation.order()] == ["b", "c", "a"]
    assert split_urls(" http://x/graphql  http://y/graphql ") == [
        "http://x/graphql",
        "http://y/graphql",
    ]
    with pytest.raises(ValueError, match="at least one URL"):
        split_urls("  ")
