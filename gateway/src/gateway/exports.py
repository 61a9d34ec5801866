"""Files through the gateway: exports and imports (``/export/<file>``, ``/import/<file>``) and
printable documents (``/documents/quotes/<id>.html|.pdf``) are forwarded to the subgraph that
owns them, with the caller's ``Authorization``, so the subgraph applies the caller's
visibility; the answer is streamed back as it comes. Clients need only the gateway's address.

The subgraph's address is the one of its ``/graphql`` URL in the running supergraph (so
``GATEWAY_SUBGRAPH_URLS`` and the registry's URLs apply here too); of a subgraph with several
replicas, the next one in turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

#: Path -> the subgraph that serves it.
FORWARDED: Mapping[str, str] = {
    "/export/customers.csv": "customers",
    "/export/customers.xlsx": "customers",
    "/export/opportunities.csv": "pipeline",
    "/export/opportunities.xlsx": "pipeline",
    "/import/customers.csv": "customers",
    "/import/customers.xlsx": "customers",
    "/import/opportunities.csv": "pipeline",
    "/import/opportunities.xlsx": "pipeline",
}
#: Document kind -> the subgraph that renders it (``/documents/<kind>/<name>``).
DOCUMENTS: Mapping[str, str] = {"quotes": "pipeline"}
#: Request headers a subgraph needs; the rest (cookies, hop-by-hop) stays here.
REQUEST_HEADERS = ("authorization", "content-type", "accept-language", "traceparent")
RESPONSE_HEADERS = ("content-type", "content-disposition", "www-authenticate")
#: An export of a large archive takes a while: no total deadline, only between chunks.
READ_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=120)


def _base(graphql_url: str) -> str:
    return graphql_url.removesuffix("/").removesuffix("/graphql")


def export_routes(subgraph_url: Callable[[str], str]) -> list[Route]:
    """``subgraph_url(name)``: the ``/graphql`` URL of one replica of that subgraph (raises
    ``KeyError`` when the running supergraph has no such subgraph)."""

    async def forward(request: Request) -> Response:
        if "kind" in request.path_params:
            owner = DOCUMENTS.get(request.path_params["kind"])
            if owner is None:
                return JSONResponse({"errors": [{"message": "no such document"}]}, 404)
            graph = owner
        else:
            graph = FORWARDED[request.url.path]
        try:
            url = subgraph_url(graph)
        except KeyError:
            return JSONResponse({"errors": [{"message": f"no {graph} subgraph"}]}, 503)
        target = _base(url) + request.url.path
        headers = {k: v for k in REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
        session = aiohttp.ClientSession(timeout=READ_TIMEOUT)
        try:
            upstream = await session.request(
                request.method,
                target,
                params=list(request.query_params.multi_items()),
                headers=headers,
                data=request.stream() if request.method == "POST" else None,
            )
        except aiohttp.ClientError as exc:
            await session.close()
            error = {"errors": [{"message": f"{graph} unreachable: {exc}"}]}
            return JSONResponse(error, status_code=502)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    yield chunk
            finally:
                upstream.release()
                await session.close()

        return StreamingResponse(
            body(),
            status_code=upstream.status,
            headers={k: v for k in RESPONSE_HEADERS if (v := upstream.headers.get(k))},
        )

    return [
        *(
            Route(path, forward, methods=["POST"] if path.startswith("/import/") else ["GET"])
            for path in FORWARDED
        ),
        Route("/documents/{kind}/{name}", forward, methods=["GET"]),
    ]
