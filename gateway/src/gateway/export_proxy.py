"""``GET /export/customers.csv`` through the gateway: the customers subgraph's streamed CSV
export (formula cells neutralised there), proxied chunk by chunk with the caller's token, so
clients need only the gateway's address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

PATH = "/export/customers.csv"


def export_route(subgraph_urls: Callable[[], Mapping[str, str]]) -> Route:
    async def export(request: Request) -> Response:
        graphql_url = subgraph_urls().get("customers")
        if graphql_url is None:
            return JSONResponse({"errors": [{"message": "no customers subgraph"}]}, 404)
        url = graphql_url.removesuffix("/graphql") + PATH
        headers = {
            name: request.headers[name]
            for name in ("authorization", "traceparent")
            if name in request.headers
        }
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=60))
        try:
            upstream = await session.get(url, params=request.query_params, headers=headers)
        except aiohttp.ClientError as exc:
            await session.close()
            return JSONResponse({"errors": [{"message": f"customers unreachable: {exc}"}]}, 502)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                yield chunk

        async def close() -> None:
            upstream.release()
            await session.close()

        return StreamingResponse(
            body(),
            status_code=upstream.status,
            media_type=upstream.headers.get("content-type", "text/csv"),
            background=BackgroundTask(close),
        )

    return Route(PATH, export, methods=["GET"])
