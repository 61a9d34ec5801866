"""The lean HTTP/1.1 client of the transport (gateway.transport.keepalive) against a raw
asyncio server: keep-alive reuse, chunked bodies, ``Connection: close``, an idle connection
the server dropped (retried once), idle expiry, and a refused connection; and the aiohttp
path that ``https://`` subgraphs take, with certificate verification."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gateway.transport.http import SubgraphRequestError, SubgraphTransport, new_session
from gateway.transport.keepalive import KeepAlivePool

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


async def _post(pool: KeepAlivePool, url: str) -> tuple[int, bytes]:
    key, head = pool.prepare(url)
    return await pool.post(key, head, {"Content-Type": "application/json"}, b"{}", 5)


async def test_connections_are_kept_alive(server: tuple[list[Reply], list[int], str]) -> None:
    replies, connections, url = server
    replies.append(lambda _: (_ok(b'{"data":1}'), False))
    pool = KeepAlivePool()
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
    pool = KeepAlivePool()
    assert await _post(pool, url) == (200, b'{"a":1}')
    pool.close()


async def test_connection_close_and_dropped_idle_connections(
    server: tuple[list[Reply], list[int], str],
) -> None:
    replies, connections, url = server
    # The server announces keep-alive but drops the connection after each response: the
    # next request finds it closed and is retried once on a new connection.
    replies.append(lambda n: (_ok(b"%d" % n), True))
    pool = KeepAlivePool()
    assert await _post(pool, url) == (200, b"1")
    await asyncio.sleep(0.05)
    assert await _post(pool, url) == (200, b"2")
    replies[0] = lambda n: (_ok(b"%d" % n, b"Connection: close\r\n"), True)
    assert await _post(pool, url) == (200, b"3")
    assert len(connections) == 3
    pool.close()


async def test_a_refused_connection_raises() -> None:
    pool = KeepAlivePool()
    with pytest.raises(ConnectionRefusedError):
        await _post(pool, "http://127.0.0.1:9/graphql")


async def test_connections_idle_too_long_are_not_reused(
    server: tuple[list[Reply], list[int], str],
) -> None:
    replies, connections, url = server
    replies.append(lambda n: (_ok(b"%d" % n), False))
    pool = KeepAlivePool(idle_seconds=0.05)
    assert await _post(pool, url) == (200, b"1")
    assert await _post(pool, url) == (200, b"1")  # at once: the same connection
    await asyncio.sleep(0.15)
    assert await _post(pool, url) == (200, b"2")  # idle too long: a new one, no retry
    assert len(connections) == 2
    pool.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (openssl, as a user would)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_subgraphs_go_through_aiohttp_and_verify_the_certificate(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            requests.append(await reader.readexactly(length))
            writer.write(_ok(b'{"data":{"ok":true}}', b"Content-Type: application/json\r\n"))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    url = f"https://127.0.0.1:{listener.sockets[0].getsockname()[1]}/graphql"
    try:
        async with new_session(ca_file=str(cert)) as trusted:
            transport = SubgraphTransport(trusted, {"tls": url})
            answer = await transport.fetch("tls", "{ ok }", {}, None, {})
            assert answer == {"data": {"ok": True}}
            assert b'"query":"{ ok }"' in requests[-1]
            transport.close()
        async with new_session() as untrusted:  # the system's CAs only: refused
            transport = SubgraphTransport(untrusted, {"tls": url})
            with pytest.raises(SubgraphRequestError, match="certificate"):
                await transport.fetch("tls", "{ ok }", {}, None, {})
            transport.close()
        assert len(requests) == 1
    finally:
        listener.close()
