"""Subgraph error paths cut to what the client selected.

An entity fetch may select fields the client never asked for (keys, ``@requires`` inputs,
aliased copies); an error there (``users.2.tier`` when the client asked ``users { label }``)
must not name them: its path is cut at the first step that is no response key of the
client's operation (``users.2``), the entity whose field the failure cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, SelectionSetNode

if TYPE_CHECKING:
    from gateway.execution.fast_shaping import FastShaper


def client_paths(
    shaper: FastShaper,
    errors: list[dict[str, Any]],
    data: Any,
    variables: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The errors, each path cut to the client's selection (errors without one as they are)."""
    out = []
    for error in errors:
        path = error.get("path")
        if isinstance(path, list) and path:
            cut = _cut(shaper, path, data, variables)
            if cut != path:
                error = {**error, "path": cut} if cut else _without_path(error)
        out.append(error)
    return out


def _without_path(error: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in error.items() if k != "path"}


def _cut(shaper: FastShaper, path: list[Any], data: Any, variables: Mapping[str, Any]) -> list[Any]:
    type_: GraphQLObjectType | None = shaper.root
    sets: list[SelectionSetNode] = shaper.root_sets
    value = data
    out: list[Any] = []
    for step in path:
        if isinstance(step, int):
            out.append(step)
            value = value[step] if isinstance(value, list) and 0 <= step < len(value) else None
            continue
        if type_ is None and isinstance(value, dict):
            found = shaper.schema.get_type(str(value.get("__typename")))
            type_ = found if isinstance(found, GraphQLObjectType) else None
        if type_ is None:
            return out  # a type the walk cannot tell: keep what is certain
        entry = next((e for e in shaper.collect(type_, sets, variables) if e[0] == step), None)
        if entry is None or entry[2] is None:
            return out  # not selected by the client (or __typename, a leaf)
        out.append(step)
        _, _, field, sets, _ = entry
        assert field is not None
        named = field.type
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        # An abstract type is told by the __typename of the value at the next field step.
        type_ = named if isinstance(named, GraphQLObjectType) else None
        value = value.get(step) if isinstance(value, dict) else None
    return out
