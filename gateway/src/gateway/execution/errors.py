"""Subgraph errors as the client must see them: at client response paths, with their
``extensions`` (above all ``extensions.code``) kept, without the subgraph's locations (they
point into an operation the client never sent)."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

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


def transport_error(service: str, reason: str, path: ResponsePath | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": f"request to subgraph '{service}' failed: {reason}"}
    if path is not None:
        error["path"] = path
    error["extensions"] = {"code": SUBREQUEST_FAILED, "service": service}
    return error


def transport_errors(service: str, reason: str, paths: list[ResponsePath]) -> list[dict[str, Any]]:
    """A failed fetch, reported where its data is missing: at each root field it was to
    answer, or at each entity it was to complete, so that the error stands beside the null
    it caused (the rest of the response is unaffected) instead of many "Cannot return null"
    errors. Without a path when there is none to give."""
    if not paths:
        return [transport_error(service, reason)]
    return [transport_error(service, reason, list(path)) for path in paths]


def root_response_keys(operation_text: str) -> list[ResponsePath]:
    """The response keys of a root fetch's top-level fields (its operation is the planner's,
    so it parses; only read when the fetch failed)."""
    try:
        document = parse(operation_text)
    except GraphQLError:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    keys: dict[str, None] = {}

    def collect(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                if not key.startswith("__"):
                    keys[key] = None
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    collect(fragments[name].selection_set, seen | {name})

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            collect(definition.selection_set, frozenset())
            break
    return [[key] for key in keys]
