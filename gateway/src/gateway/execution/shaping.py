"""The final response: the client's operation executed by graphql-core against the API
schema, over the merged data.

Resolvers only read the merged data by response key; graphql-core does the rest as the spec
says: only the selected fields in the selected order, ``@skip``/``@include``, ``__typename``
and introspection, leaf serialization, and null bubbling with error paths. Subgraph errors
are raised where their data is null, so that they bubble like local errors instead of being
followed by a second "cannot return null" error; the others are appended as they came.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    execute_sync,
    get_operation_ast,
    is_non_null_type,
)

from gateway.execution.error_paths import client_paths
from gateway.execution.executor import ExecutionOutcome
from gateway.execution.fast_shaping import FastShaper

ErrorPath = tuple[str | int, ...]


@dataclass
class _PendingErrors:
    """Subgraph errors not yet attached to a null in the shaped response."""

    entries: list[tuple[ErrorPath, dict[str, Any]]] = field(default_factory=list)

    def take(self, path: ErrorPath, non_null: bool) -> tuple[ErrorPath, dict[str, Any]] | None:
        # At this field or below it: the null here is that error's (bubbled) result.
        for index, (at, _) in enumerate(self.entries):
            if at[: len(path)] == path:
                return self.entries.pop(index)
        # Elsewhere in the same object: a subgraph nulls a whole entity when one of its
        # non-null fields fails, so the null here may be that error's too (or the error is
        # the entity's own). Only worth it where graphql-core would otherwise report a
        # non-null violation of its own, which would hide the real cause.
        if non_null:
            parent = path[:-1]
            for index, (at, _) in enumerate(self.entries):
                if at[: len(parent)] == parent or parent[: len(at)] == at:
                    return self.entries.pop(index)
        return None


def _resolve_by_response_key(
    source: Any, info: GraphQLResolveInfo[_PendingErrors], **_: Any
) -> Any:
    if not isinstance(source, dict):
        return None
    value = source.get(info.path.key)
    if value is None:
        pending = info.context
        if pending.entries:
            found = pending.take(tuple(info.path.as_list()), is_non_null_type(info.return_type))
            if found is not None:
                raise _as_graphql_error(found[1], found[0], info.field_nodes)
    return value


def _resolve_type(value: Any, info: GraphQLResolveInfo[Any], type_: GraphQLAbstractType) -> Any:
    if not isinstance(value, dict):
        return None
    name = value.get("__typename")
    if name == type_.name:
        # An @interfaceObject subgraph's object: the planner fetched the real type wherever
        # the operation depends on it, so any implementation shapes the same fields.
        possible = info.schema.get_possible_types(type_)
        return possible[0].name if possible else name
    return name


def _as_graphql_error(
    error: dict[str, Any], path: ErrorPath, nodes: Collection[FieldNode]
) -> GraphQLError:
    # A GraphQLError with a path is kept as is by graphql-core (no re-location), so the
    # subgraph's precise path survives even when raised at an ancestor field.
    return GraphQLError(
        str(error.get("message", "subgraph error")),
        nodes=list(nodes),
        path=list(path),
        extensions=error.get("extensions"),
    )


def shape_response(
    api_schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    outcome: ExecutionOutcome,
) -> dict[str, Any]:
    pending = _PendingErrors()
    pathless: list[dict[str, Any]] = []
    operation = get_operation_ast(document, operation_name)
    errors_in = outcome.errors
    if operation is not None and any(isinstance(e.get("path"), list) for e in errors_in):
        shaper = FastShaper(api_schema, document, operation)
        errors_in = client_paths(shaper, errors_in, outcome.data, variables)
    for error in errors_in:
        path = error.get("path")
        if isinstance(path, list) and path:
            pending.entries.append((tuple(path), error))
        else:
            pathless.append(error)
    result = execute_sync(
        api_schema,
        document,
        root_value=outcome.data,
        context_value=pending,
        variable_values=dict(variables),
        operation_name=operation_name,
        field_resolver=_resolve_by_response_key,
        type_resolver=_resolve_type,
    )
    errors: list[dict[str, Any]] = [dict(e.formatted) for e in result.errors or ()]
    errors += [error for _, error in pending.entries] + pathless
    response: dict[str, Any] = {"data": result.data}
    if errors:
        response["errors"] = errors
    return response
