"""The lean HTTP/1.1 client of the transport (gateway.transport.h11pool) against a raw
asyncio server: keep-alive reuse, chunked bodies, ``Connection: close``, an idle connection
the server dropped (retried once), and a refused connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.transport.h11pool import H11Pool

Reply = Callable[[int], tuple[bytes, bool]]  # request number -> (raw response, close after)


@pytest.fixture
async def server() -> AsyncIterator[tuple[list[Reply], list[int], str]]:
    replies: list[Reply] = []
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                raw, close = replies[0](len(connections))
                writer.write(raw)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    yield replies, connections, f"http://127.0.0.1:{port}/graphql"
    listener.close()


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def _post(pool: H11Pool, url: str) -> tuple[int, bytes]:
    key, head = pool.prepare(url)
    return await pool.post(key, head, {"Content-Type": "application/json"}, b"{}", 5)


async def test_connections_are_kept_alive(server: tuple[list[Reply], list[int], str]) -> None:
    replies, connections, url = server
    replies.append(lambda _: (_ok(b'{"data":1}'), False))
    pool = H11Pool()
    for _ in range(3):
        assert await _post(pool, url) == (200, b'{"data":1}')
    assert len(connections) == 1
    pool.close()


async def test_chunked_bodies(server: tuple[list[Reply], list[int], str]) -> None:
    replies, _, url = server
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )
    replies.append(lambda _: (chunked, False))
    pool = H11Pool()
    assert await _post(pool, url) == (200, b'{"a":1}')
    pool.close()


async def test_connection_close_and_dropped_idle_connections(
    server: tuple[list[Reply], list[int], str],
) -> None:
    replies, connections, url = server
    # The server announces keep-alive but drops the connection after each response: the
    # next request finds it closed and is retried once on a new connection.
    replies.append(lambda n: (_ok(b"%d" % n), True))
    pool = H11Pool()
    assert await _post(pool, url) == (200, b"1")
    await asyncio.sleep(0.05)
    assert await _post(pool, url) == (200, b"2")
    replies[0] = lambda n: (_ok(b"%d" % n, b"Connection: close\r\n"), True)
    assert await _post(pool, url) == (200, b"3")
    assert len(connections) == 3
    pool.close()


async def test_a_refused_connection_raises() -> None:
    pool = H11Pool()
    with pytest.raises(ConnectionRefusedError):
        await _post(pool, "http://127.0.0.1:9/graphql")
