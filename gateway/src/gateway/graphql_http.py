"""GraphQL over HTTP (the graphql-over-http spec): reading a request from GET or POST, and
choosing the response media type and status."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from gateway.engine import BAD_REQUEST, GraphQLRequest, RequestError

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


def _request_from(params: dict[str, Any]) -> GraphQLRequest:
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _malformed("the request has no 'query' string")
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _malformed("'operationName' must be a string")
    return GraphQLRequest(
        query=query,
        variables=_object_or_none(params.get("variables"), "variables"),
        operation_name=operation_name or None,
    )


async def read_graphql_request(request: Request) -> GraphQLRequest:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if "variables" in params:
            try:
                params["variables"] = orjson.loads(params["variables"])
            except orjson.JSONDecodeError as exc:
                raise _malformed("'variables' is not valid JSON") from exc
        return _request_from(params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise _malformed(f"POST requests must be sent as {JSON}")
    try:
        body = orjson.loads(await request.body())
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
