"""GraphQL over HTTP (the graphql-over-http spec): reading a request from GET or POST, and
choosing the response media type and status."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from gateway.engine import BAD_REQUEST, RequestError

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def _malformed(message: str) -> RequestError:
    return RequestError(
        [{"message": message, "extensions": {"code": BAD_REQUEST}}], well_formed=False
    )


def _object_or_none(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(f"'{name}' must be a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class HttpGraphQLRequest:
    """What the client sent; ``query`` may be absent when a persisted query's hash stands in."""

    query: str | None
    variables: dict[str, Any]
    operation_name: str | None
    extensions: dict[str, Any]


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


def _request_from(params: dict[str, Any]) -> HttpGraphQLRequest:
    query = params.get("query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise _malformed("'query' must be a non-empty string")
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _malformed("'operationName' must be a string")
    return HttpGraphQLRequest(
        query=query,
        variables=_object_or_none(params.get("variables"), "variables"),
        operation_name=operation_name or None,
        extensions=_object_or_none(params.get("extensions"), "extensions"),
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (``BodyTooLarge``) as soon as it is known to exceed ``limit``: by its
    Content-Length before reading anything, else while streaming; never buffered beyond it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def discard_rest_of_body(request: Request, max_bytes: int, seconds: float) -> bool:
    """Read what is left of a refused body and throw it away (nothing is kept), so that a
    client that writes its whole body before reading the answer (urllib, many SDKs) sees the
    413 instead of a reset connection. Bounded by ``max_bytes`` and ``seconds``; a client that
    sent ``Expect: 100-continue`` has sent nothing yet, so there is nothing to read.

    True when the body was read to its end (the connection could be reused)."""
    if "100-continue" in request.headers.get("expect", "").lower():
        return False
    read = 0

    async def drain() -> bool:
        nonlocal read
        while True:
            message = await request.receive()
            if message["type"] != "http.request":
                return False  # the client went away
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
            if read > max_bytes:
                return False

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            return await drain()
    return False


async def read_graphql_request(request: Request, max_body_bytes: int) -> HttpGraphQLRequest:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        for name in ("variables", "extensions"):
            if name in params:
                try:
                    params[name] = orjson.loads(params[name])
                except orjson.JSONDecodeError as exc:
                    raise _malformed(f"'{name}' is not valid JSON") from exc
        return _request_from(params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise _malformed(f"POST requests must be sent as {JSON}")
    raw = await read_body(request, max_body_bytes)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _malformed("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise _malformed("the body must be a JSON object")
    return _request_from(body)


def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` only when the client prefers it; otherwise the
    classic ``application/json`` that every client understands."""
    if not accept:
        return JSON
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if media in (JSON, GRAPHQL_RESPONSE_JSON):
            ranked.append((-quality, position, media))
    if not ranked:
        return JSON
    return min(ranked)[2]


def request_error_status(error: RequestError, media_type: str) -> int:
    # graphql-over-http: with application/json, a well-formed request gets 200 whatever its
    # GraphQL errors; with application/graphql-response+json, a request error gets 400.
    if not error.well_formed:
        return 400
    return 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
