"""Stop working on a request whose client went away.

uvicorn tells an application that the client disconnected only through ``receive()``; an
application busy in a resolver never asks, so the work goes on for nobody. This middleware
watches for ``http.disconnect`` once the body has been read, and cancels the handler when
it comes before the response is complete. On the gateway, the cancellation closes the
connections to the subgraphs (the pool drops a connection whose request was cancelled), so
each subgraph in turn sees its client gone and stops too.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()
        response_done = False
        handler = asyncio.current_task()
        assert handler is not None
        # A request without a body (GET): the watcher reads its one empty ``http.request``
        # at once and hands it to the application when it asks.
        stash: list[Message] = []
        headers = dict(scope["headers"])
        bodiless = b"content-length" not in headers and b"transfer-encoding" not in headers

        async def tracking_receive() -> Message:
            if stash:
                return stash.pop()
            message = await receive()
            last_body = message["type"] == "http.request" and not message.get("more_body", False)
            if last_body or message["type"] == "http.disconnect":
                body_read.set()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_done
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                response_done = True
            await send(message)

        async def watch() -> None:
            if bodiless:
                first = await receive()
                if first["type"] == "http.request":
                    stash.append(first)
                    body_read.set()
                elif not response_done:
                    handler.cancel()
                    return
            await body_read.wait()
            message = await receive()
            if message["type"] == "http.disconnect" and not response_done:
                handler.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await self.app(scope, tracking_receive, tracking_send)
        except asyncio.CancelledError:
            if watcher.done() and not response_done:
                return  # the client is gone: nobody to answer
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
