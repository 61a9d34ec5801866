"""``GET /documents/quotes/{id}.html|.pdf``: printable documents served by a subgraph's plain
HTTP route, forwarded with the caller's ``Authorization`` (the subgraph checks the token and
the visibility rule; the gateway adds nothing but the single address clients know)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiohttp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: The subgraph that owns each document kind.
OWNERS = {"quotes": "pipeline"}
FORWARDED = ("content-type", "content-disposition", "www-authenticate")
TIMEOUT_SECONDS = 30.0


def _base(graphql_url: str) -> str:
    return graphql_url.removesuffix("/").removesuffix("/graphql")


def document_route(subgraph_urls: Callable[[], Mapping[str, str]]) -> Route:
    async def document(request: Request) -> Response:
        kind = request.path_params["kind"]
        owner = OWNERS.get(kind)
        url = subgraph_urls().get(owner or "")
        if url is None:
            return JSONResponse({"errors": [{"message": "no such document"}]}, status_code=404)
        target = f"{_base(url)}/documents/{kind}/{request.path_params['name']}"
        headers = {}
        if "authorization" in request.headers:
            headers["Authorization"] = request.headers["authorization"]
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(target, headers=headers) as answer,
            ):
                body = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() in FORWARDED}
                return Response(body, status_code=answer.status, headers=kept)
        except (aiohttp.ClientError, TimeoutError) as exc:
            message = f"{owner} is unreachable: {type(exc).__name__}"
            return JSONResponse({"errors": [{"message": message}]}, status_code=502)

    return Route("/documents/{kind}/{name}", document, methods=["GET"])
