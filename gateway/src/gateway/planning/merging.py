"""Field-merging conflicts in subgraph operations (issue 13, class 9).

GraphQL's "overlapping fields can be merged" rule makes a selection invalid where two fields
of one response name have different types, even in fragments on different object types
(``... on Book { code } ... on Movie { code }`` with ``Book.code: ID!`` and ``Movie.code: ID``).
The client's operation is valid against the supergraph, where both may be ``ID``; the
subgraph's own types can still differ (``@join__field(type:)``). So before a subgraph
operation is printed, such fields are aliased (all but those of the first type met), and the
fetch carries one ``KeyRename`` per alias: the executor renames the keys back in the
subgraph's result before merging it, so nothing downstream sees the aliases.
"""

from __future__ import annotations

import copy

from gateway.planning.plan import KeyRename
from gateway.planning.schema_types import field_definition, named_type_name
from gateway.planning.selections import FieldSelection, Selection
from gateway.supergraph.model import Supergraph

_ALIAS_PREFIX = "_fed_merge_"


def alias_conflicts(
    selections: list[Selection], parent_type: str | None, graph: str, supergraph: Supergraph
) -> tuple[list[Selection], tuple[KeyRename, ...]]:
    """``selections`` of an operation to ``graph`` (on ``parent_type``; None for the
    ``_entities`` field, whose fragments name their types), with conflicting fields aliased
    (a copy, only when needed), and the renames that undo the aliases."""
    if not _walk(selections, parent_type, graph, supergraph, (), [], rename=False):
        return selections, ()
    selections = copy.deepcopy(selections)
    renames: list[KeyRename] = []
    _walk(selections, parent_type, graph, supergraph, (), renames, rename=True)
    # Deepest first: a rename's path names the keys as the subgraph answers them.
    renames.sort(key=lambda r: -len(r.path))
    return selections, tuple(renames)


def _walk(
    selections: list[Selection],
    parent_type: str | None,
    graph: str,
    supergraph: Supergraph,
    path: tuple[str, ...],
    renames: list[KeyRename],
    *,
    rename: bool,
) -> bool:
    """Whether a conflict is found at this level or below; with ``rename``, alias them."""
    entries: list[tuple[FieldSelection, str]] = []
    _collect(selections, parent_type, entries)
    found = False
    by_key: dict[str, list[tuple[FieldSelection, str]]] = {}
    for field, owner in entries:
        if field.name != "__typename":
            by_key.setdefault(field.response_key, []).append((field, owner))
    for key, fields in by_key.items():
        types = [_type_in(supergraph, graph, owner, f.name) for f, owner in fields]
        distinct = list(dict.fromkeys(types))
        if len(distinct) < 2:
            continue
        found = True
        if not rename:
            continue
        for (field, _), type_text in zip(fields, types, strict=True):
            index = distinct.index(type_text)
            if index == 0:
                continue
            alias = f"{_ALIAS_PREFIX}{index}_{key}"
            field.alias = alias
            rename_back = KeyRename(path, alias, key)
            if rename_back not in renames:
                renames.append(rename_back)
    # Fields of one response key and type merge: their sub-selections are checked as one
    # (``items { ... on Book { code } } items { ... on Movie { code } }`` conflicts too).
    merged: dict[tuple[str, str], list[Selection]] = {}
    for field, owner in entries:
        if field.selections:
            type_text = _type_in(supergraph, graph, owner, field.name)
            merged.setdefault((field.response_key, type_text), []).extend(field.selections)
    for (key, type_text), below in merged.items():
        child = named_type_name(type_text)
        if _walk(below, child, graph, supergraph, (*path, key), renames, rename=rename):
            found = True
    return found


def _collect(
    selections: list[Selection], parent_type: str | None, out: list[tuple[FieldSelection, str]]
) -> None:
    for selection in selections:
        if isinstance(selection, FieldSelection):
            if parent_type is not None:
                out.append((selection, parent_type))
        else:
            _collect(selection.selections, selection.type_condition or parent_type, out)


def _type_in(supergraph: Supergraph, graph: str, type_name: str, field_name: str) -> str:
    """The field's type as ``graph`` declares it."""
    if field_name == "__typename":
        return "String!"
    recorded = supergraph.field_type_in(type_name, field_name, graph)
    if recorded is not None:
        return recorded
    return str(field_definition(supergraph.schema, type_name, field_name).type)
