"""Subgraph errors as the client must see them: at client response paths, with their
``extensions`` (above all ``extensions.code``) kept, without the subgraph's locations (they
point into an operation the client never sent)."""

from __future__ import annotations

from typing import Any

from gateway.execution.entities import ResponsePath

ENTITIES_FIELD = "_entities"
SUBREQUEST_FAILED = "SUBREQUEST_HTTP_ERROR"


def client_error(error: Any, path: ResponsePath | None) -> dict[str, Any]:
    if not isinstance(error, dict):
        return {"message": str(error)}
    mapped: dict[str, Any] = {"message": str(error.get("message", "subgraph error"))}
    if path is not None:
        mapped["path"] = path
    extensions = error.get("extensions")
    if isinstance(extensions, dict) and extensions:
        mapped["extensions"] = dict(extensions)
    return mapped


def root_fetch_error(error: Any) -> dict[str, Any]:
    """A root fetch selects the client's fields with the client's response keys, so the
    subgraph's paths are already client paths."""
    path = error.get("path") if isinstance(error, dict) else None
    return client_error(error, list(path) if isinstance(path, list) else None)


def entity_fetch_errors(error: Any, positions: list[list[ResponsePath]]) -> list[dict[str, Any]]:
    """Rewrite ``["_entities", i, ...]`` to the path of each entity that representation ``i``
    stood for (several, when it was de-duplicated), followed by the rest of the path."""
    path = error.get("path") if isinstance(error, dict) else None
    if (
        isinstance(path, list)
        and len(path) >= 2
        and path[0] == ENTITIES_FIELD
        and isinstance(path[1], int)
        and 0 <= path[1] < len(positions)
    ):
        return [client_error(error, [*at, *path[2:]]) for at in positions[path[1]]]
    return [client_error(error, None)]


def transport_error(service: str, reason: str) -> dict[str, Any]:
    return {
        "message": f"request to subgraph '{service}' failed: {reason}",
        "extensions": {"code": SUBREQUEST_FAILED, "service": service},
    }
