"""A minimal HTTP/1.1 keep-alive client (httptools) for the hot path: POST a body, read the
response.

Why: with the plan cache on, talking to subgraphs is most of the gateway's work, and a
general-purpose client (aiohttp, httpx) spends more CPU per request than the rest of the
gateway. This one writes each request in one call on a pooled connection and parses the
response with httptools (llhttp, the parser uvicorn uses). Plain ``http://`` only; the
transport falls back to aiohttp for anything else.

A connection idle for longer than ``idle_seconds`` is closed instead of reused: servers drop
idle keep-alive connections after a few seconds (uvicorn after 5), and a connection dropped
that way costs a failed write and a retry; closing ours first avoids both.

A pooled connection that the server closed while idle is detected when the request fails
before any byte of the response arrived, and the request is retried once on a new one
(POSTs of GraphQL operations are sent again only in that case, where the server cannot
have processed them... except if it closed right after reading: a risk every keep-alive
client takes, accepted for idempotent-by-contract subgraph reads; mutations go through the
same path, as with any HTTP client that retries on a stale connection).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlsplit

import httptools


class KeepAliveError(Exception):
    pass


class _StaleConnection(KeepAliveError):
    """The pooled connection was closed before any response byte: safe to retry."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.got_bytes = False
        self.headers_done = False
        self.closed = False
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are no asyncio.Transport subclasses, but behave as one.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(KeepAliveError(f"bad HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            if not self.got_bytes:
                self.waiter.set_exception(_StaleConnection("connection closed"))
            elif self.headers_done and self.body:
                # A body delimited by the close (no length, not chunked): HTTP/1.0 style.
                self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))
            else:
                self._fail(KeepAliveError("connection closed mid-response"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.body = []
        self.got_bytes = False
        self.headers_done = False
        self.parser = httptools.HttpResponseParser(self)
        self.transport.write(data)
        try:
            return await self.waiter
        finally:
            self.waiter = None


class _Host:
    def __init__(self, host: str, port: int, limit: int, idle_seconds: float) -> None:
        self.host = host
        self.port = port
        #: Idle connections with the monotonic time each became idle, most recent last.
        self.idle: deque[tuple[_Connection, float]] = deque()
        self.slots = asyncio.Semaphore(limit)
        self.idle_seconds = idle_seconds

    def take_idle(self) -> _Connection | None:
        """The most recently used idle connection still worth reusing; expired and closed
        ones are closed and dropped (the oldest sit at the left end)."""
        expired = time.monotonic() - self.idle_seconds
        while self.idle and self.idle[0][1] < expired:
            self.idle.popleft()[0].close()
        while self.idle:
            connection, _ = self.idle.pop()
            if not connection.closed:
                return connection
        return None

    def put_idle(self, connection: _Connection) -> None:
        self.idle.append((connection, time.monotonic()))

    async def connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(_Connection, self.host, self.port)
        # uvloop may call connection_made only after create_connection returned.
        connection.transport = transport
        return connection


class KeepAlivePool:
    """POSTs over pooled keep-alive connections, per (host, port)."""

    def __init__(
        self, connect_timeout: float = 5.0, max_per_host: int = 200, idle_seconds: float = 4.0
    ) -> None:
        self._hosts: dict[tuple[str, int], _Host] = {}
        self._connect_timeout = connect_timeout
        self._max_per_host = max_per_host
        self._idle_seconds = idle_seconds

    @staticmethod
    def supports(url: str) -> bool:
        return urlsplit(url).scheme == "http"

    def prepare(self, url: str) -> tuple[tuple[str, int], bytes]:
        """The pool key and the request head prefix (request line and Host) of a URL."""
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = host if port == 80 else f"{host}:{port}"
        head = f"POST {target} HTTP/1.1\r\nHost: {netloc}\r\n".encode("latin-1")
        return (host, port), head

    async def post(
        self,
        key: tuple[str, int],
        head: bytes,
        headers: Mapping[str, str],
        body: bytes,
        timeout_seconds: float | None,
    ) -> tuple[int, bytes]:
        """``timeout_seconds=None``: no timer of its own (a caller's deadline bounds it)."""
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(key[0], key[1], self._max_per_host, self._idle_seconds)
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        data = b"".join(
            (head, lines.encode("latin-1"), b"Content-Length: %d\r\n\r\n" % len(body), body)
        )
        async with host.slots:
            for attempt in (1, 2):
                idle = host.take_idle()
                reused = idle is not None
                if idle is not None:
                    connection = idle
                else:
                    async with asyncio.timeout(self._connect_timeout):
                        connection = await host.connect()
                try:
                    if timeout_seconds is None:
                        result = await connection.request(data)
                    else:
                        async with asyncio.timeout(timeout_seconds):
                            result = await connection.request(data)
                except _StaleConnection:
                    connection.close()
                    if reused and attempt == 1:
                        continue
                    raise
                except BaseException:
                    connection.close()
                    raise
                if connection.keep_alive and not connection.closed:
                    host.put_idle(connection)
                else:
                    connection.close()
                return result
        raise KeepAliveError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for host in self._hosts.values():
            while host.idle:
                host.idle.pop()[0].close()
        self._hosts.clear()
